"""The ARQ worker, run as a loop of the webhooks-worker process beside its HTTP health endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from arq.connections import ArqRedis
from arq.worker import Worker, func
from redis.exceptions import RedisError

from payflow_webhooks.adapters.arq_queue import (
    DELIVER_OPENED,
    DELIVER_WEBHOOK,
    dump_job,
    health_check_key,
    load_job,
    queue_name,
)
from payflow_webhooks.ports import DeliveryQueue
from payflow_webhooks.settings import WebhooksWorkerSettings
from payflow_webhooks.worker.courier import WebhookCourier
from payflow_webhooks.worker.jobs import COURIER, QUEUE, deliver_opened, deliver_webhook

logger = logging.getLogger(__name__)

RUNAWAY_JOB_TRIES = 20_000
"""ARQ's own try counter also counts early wake-ups, runs cut short by a crash and the waits of a
job whose endpoint was busy (about one a second: worker/fair_share.py); the delivery record
bounds the real attempts, so this only stops a job that loops for some unforeseen reason (the
sweeper then starts it afresh)."""


def build_arq_worker(
    settings: WebhooksWorkerSettings,
    pool: ArqRedis,
    courier: WebhookCourier,
    queue: DeliveryQueue,
) -> Worker:
    streams = settings.streams
    return Worker(
        functions=[
            func(deliver_webhook, name=DELIVER_WEBHOOK, max_tries=RUNAWAY_JOB_TRIES),
            # Its attempts run side by side, but their store writes queue behind each other's.
            func(
                deliver_opened,
                name=DELIVER_OPENED,
                max_tries=RUNAWAY_JOB_TRIES,
                timeout=settings.job_timeout * 2,
            ),
        ],
        queue_name=queue_name(streams),
        redis_pool=pool,
        # uvicorn owns the process's signals; the lifespan stops the worker.
        handle_signals=False,
        max_jobs=settings.webhook_worker_max_jobs,
        job_timeout=settings.job_timeout,
        # No results are kept: a replay reuses the job id, which a stored result would block.
        keep_result=0,
        poll_delay=settings.webhook_worker_poll_delay_s,
        health_check_interval=10,
        health_check_key=health_check_key(streams),
        ctx={COURIER: courier, QUEUE: queue},
        job_serializer=dump_job,
        job_deserializer=load_job,
        log_results=False,
    )


class DeliveryWorker:
    """Runs the ARQ worker as a loop of the process's runtime (so `/readyz` sees it) and stops
    it gracefully: no new jobs, a grace period for the running ones, then cancellation (a
    cancelled job stays queued and is run again). The pool it polls belongs to the composition
    root, which closes it once the loops have stopped."""

    def __init__(self, worker: Worker, grace_s: float = 3.0, restart_after_s: float = 1.0) -> None:
        self.arq = worker
        self._grace_s = grace_s
        self._restart_after_s = restart_after_s
        self._stopping = False

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set, then stop gracefully. Returns early (the process turns
        unready) only if polling ends for a reason nobody foresaw."""
        polling = asyncio.create_task(self._poll(), name="arq-polling")
        stopped = asyncio.create_task(stop.wait(), name="arq-stop")
        try:
            await asyncio.wait({polling, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if polling.done() and not stop.is_set():
                error = None if polling.cancelled() else polling.exception()
                logger.error("the ARQ worker stopped", exc_info=error)
        finally:
            stopped.cancel()
            await self._stop(polling)

    async def _poll(self) -> None:
        """ARQ's polling loop ends at the first Redis error (Redis restarted, a connection
        lost), which would leave the process up and ready but delivering nothing: it is started
        again after a pause, for as long as the process lives. Jobs are safe across the gap:
        the queue is in Redis and the delivery record in MongoDB."""
        while not self._stopping:
            try:
                await self.arq.async_run()
                return
            except asyncio.CancelledError:
                if self._stopping:
                    return
                raise
            except Exception:
                if self._stopping:
                    return
                logger.warning(
                    "the ARQ worker stopped; starting it again in %.1f s",
                    self._restart_after_s,
                    exc_info=True,
                )
            await asyncio.sleep(self._restart_after_s)

    async def _stop(self, polling: asyncio.Task[None]) -> None:
        self._stopping = True
        self.arq.allow_pick_jobs = False
        running = [t for t in self.arq.tasks.values() if not t.done()]
        if running:
            await asyncio.wait(running, timeout=self._grace_s)
        # Cancels what is left and the polling loop. Not `Worker.close()`: it closes the pool
        # with a call redis-py deprecates.
        self.arq.handle_sig(signal.SIGTERM)
        await asyncio.gather(*self.arq.tasks.values(), return_exceptions=True)
        with contextlib.suppress(asyncio.CancelledError):
            await polling
        try:
            await self.arq.pool.delete(self.arq.health_check_key)
        except (RedisError, OSError) as exc:
            logger.warning("the ARQ worker's health key was not removed: %r", exc)
