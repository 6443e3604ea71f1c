"""The ARQ queue of delivery jobs, JSON arguments.

Two kinds of job: the first attempt of an event's newly opened deliveries, all in one job
(`deliver_opened`, job id `opened:<event id>`), and a delivery's own job (`deliver_webhook`, job
id = the delivery id) for its later attempts, a replay, or the sweeper. Each ARQ job costs about
twenty Redis commands, several of them one after another on the worker's polling loop, which is
what bounds how many jobs a worker starts per second: one job for an event's deliveries divides
that cost by the number of subscribers.

The queue and the worker's health key hang off the run's key prefix (`settings.streams.key`);
ARQ's own per-job keys are `arq:job:<job id>` and so on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.jobs import Job, JobStatus

from payflow_contracts.streams import StreamNames
from payflow_webhooks.domain.delivery import Delivery, snapshot

logger = logging.getLogger(__name__)

DELIVER_WEBHOOK = "deliver_webhook"
"""The ARQ function name of a delivery job:
`deliver_webhook(ctx, delivery_id, traceparent, snapshot)`, the snapshot being the delivery as it
was enqueued (`domain.delivery.snapshot`; absent from jobs enqueued before it existed, and from a
follow-up of an attempted delivery, which reads the store)."""

DELIVER_OPENED = "deliver_opened"
"""The ARQ function name of an event's first-attempts job:
`deliver_opened(ctx, event_id, traceparent, [snapshot, ...])`."""


def opened_job_id(event_id: str) -> str:
    return f"opened:{event_id}"


def queue_name(streams: StreamNames) -> str:
    return streams.key("webhooks:deliveries")


def health_check_key(streams: StreamNames) -> str:
    return streams.key("webhooks:worker-health")


def dump_job(data: dict[str, Any]) -> bytes:
    """ARQ job serialiser: JSON, never pickle (job arguments are plain strings)."""
    return json.dumps(data, default=str).encode()


def load_job(raw: bytes) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(raw)
    return loaded


def arq_redis_settings(redis_url: str) -> RedisSettings:
    """ARQ's settings for `redis_url`. ARQ keeps the user and password exactly as written in the
    URL; redis-py (and so every other client of ours) decodes their %-escapes, and so do we."""
    settings = RedisSettings.from_dsn(redis_url)
    if settings.username is not None:
        settings.username = unquote(settings.username)
    if settings.password is not None:
        settings.password = unquote(settings.password)
    return settings


async def open_arq_pool(redis_url: str, streams: StreamNames) -> ArqRedis:
    return await create_pool(
        arq_redis_settings(redis_url),
        job_serializer=dump_job,
        job_deserializer=load_job,
        default_queue_name=queue_name(streams),
    )


class ArqDeliveryQueue:
    def __init__(self, pool: ArqRedis, queue: str, job_lifetime: timedelta) -> None:
        self._pool = pool
        self._queue = queue
        self._lifetime = job_lifetime

    async def enqueue(self, delivery: Delivery, traceparent: str | None) -> bool:
        due: datetime | None = delivery.next_attempt_at
        job = await self._pool.enqueue_job(
            DELIVER_WEBHOOK,
            delivery.id,
            traceparent,
            snapshot(delivery),
            _job_id=delivery.id,
            _queue_name=self._queue,
            _defer_until=due,
            # A job's Redis key lives this long; deferring on Retry does not extend it, so it
            # must outlast the whole retry schedule.
            _expires=self._lifetime,
        )
        if job is not None:
            return True
        if due is not None:
            # The job exists and may be deferred to later (a replay of a retrying delivery):
            # move its score in ARQ's queue to the new due time. XX: never add a finished one.
            await self._pool.zadd(self._queue, {delivery.id: _ms(due)}, xx=True, lt=True)
        return False

    async def enqueue_opened(
        self, event_id: str, deliveries: Sequence[Delivery], traceparent: str | None
    ) -> bool:
        job = await self._pool.enqueue_job(
            DELIVER_OPENED,
            event_id,
            traceparent,
            [snapshot(d) for d in deliveries],
            _job_id=opened_job_id(event_id),
            _queue_name=self._queue,
            _expires=self._lifetime,
        )
        return job is not None

    async def follow_up(
        self,
        delivery_id: str,
        traceparent: str | None,
        unchanged: Delivery | None,
        after: timedelta,
    ) -> bool:
        job = await self._pool.enqueue_job(
            DELIVER_WEBHOOK,
            delivery_id,
            traceparent,
            snapshot(unchanged) if unchanged is not None else None,
            _job_id=delivery_id,
            _queue_name=self._queue,
            _defer_by=after,
            _expires=self._lifetime,
        )
        return job is not None

    async def is_scheduled(self, delivery: Delivery) -> bool:
        for job_id in (delivery.id, opened_job_id(delivery.event_id)):
            job = Job(job_id, self._pool, _queue_name=self._queue, _deserializer=load_job)
            if await job.status() is not JobStatus.not_found:
                return True
        return False


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
