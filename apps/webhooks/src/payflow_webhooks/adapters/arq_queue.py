"""The ARQ queue of delivery jobs: one job per delivery, its id the delivery id, JSON arguments.

The queue and the worker's health key hang off the run's key prefix (`settings.streams.key`);
ARQ's own per-job keys are `arq:job:<delivery id>` and so on, unique because delivery ids are.
"""

from __future__ import annotations

import json
import logging
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
was enqueued (`domain.delivery.snapshot`; absent from jobs enqueued before it existed)."""


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

    async def is_scheduled(self, delivery_id: str) -> bool:
        job = Job(delivery_id, self._pool, _queue_name=self._queue, _deserializer=load_job)
        return await job.status() is not JobStatus.not_found


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
