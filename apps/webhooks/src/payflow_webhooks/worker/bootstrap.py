"""Composition root of webhooks-worker: the courier that sends deliveries, the ARQ worker that
runs its jobs and the sweeper of stalled deliveries, both loops of the process's runtime (so its
`/readyz` sees them, beside `/healthz` and `/metrics`)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx

from payflow_service import ServiceRuntime
from payflow_service.app import Compose
from payflow_service.loops import run_periodically
from payflow_webhooks.adapters.arq_queue import ArqDeliveryQueue, open_arq_pool, queue_name
from payflow_webhooks.bootstrap import open_stores, url_guard
from payflow_webhooks.ports import DeliveryQueue
from payflow_webhooks.settings import WebhooksWorkerSettings
from payflow_webhooks.worker.courier import WebhookCourier
from payflow_webhooks.worker.fair_share import FairShare
from payflow_webhooks.worker.runner import DeliveryWorker, build_arq_worker
from payflow_webhooks.worker.sender import WebhookSender
from payflow_webhooks.worker.sweeper import StalledDeliverySweeper

USER_AGENT = "PayFlow-Webhooks/1.0"


@dataclass(frozen=True, slots=True)
class WorkerComponents:
    settings: WebhooksWorkerSettings
    courier: WebhookCourier
    queue: DeliveryQueue
    worker: DeliveryWorker
    sweeper: StalledDeliverySweeper


def compose(settings: WebhooksWorkerSettings) -> Compose:
    @contextlib.asynccontextmanager
    async def components(runtime: ServiceRuntime) -> AsyncIterator[WorkerComponents]:
        streams = settings.streams
        stores = open_stores(runtime.redis, settings)
        # trust_env=False: no proxy from the environment gets to see or redirect deliveries.
        client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.webhook_timeout_s),
            follow_redirects=False,
            trust_env=False,
            headers={"user-agent": USER_AGENT},
        )
        courier = WebhookCourier(
            endpoints=stores.endpoints,
            events=stores.events,
            deliveries=stores.deliveries,
            sender=WebhookSender(client, url_guard(settings), settings.webhook_timeout_s),
            policy=settings.retry_policy(),
            disable_after=timedelta(seconds=settings.webhook_disable_after_s),
            share=FairShare(
                per_endpoint=settings.webhook_max_in_flight_per_endpoint,
                per_owner=settings.webhook_max_in_flight_per_owner,
            ),
        )
        pool = await open_arq_pool(settings.redis_connection_url, streams)
        queue = ArqDeliveryQueue(pool, queue_name(streams), settings.job_lifetime())
        worker = DeliveryWorker(build_arq_worker(settings, pool, courier, queue))
        sweeper = StalledDeliverySweeper(
            stores.deliveries, queue, timedelta(seconds=settings.webhook_sweeper_grace_s)
        )
        runtime.start_loop("arq-worker", worker.run(runtime.stopping))
        runtime.start_loop(
            "delivery-sweeper",
            run_periodically(
                sweeper.sweep,
                interval_s=settings.webhook_sweeper_interval_s,
                stop=runtime.stopping,
                what="delivery sweep",
            ),
            upkeep=True,
        )
        try:
            yield WorkerComponents(
                settings=settings, courier=courier, queue=queue, worker=worker, sweeper=sweeper
            )
        finally:
            # The loops have stopped (the runtime stops them first): close what they shared.
            await pool.aclose()
            await client.aclose()

    return components
