"""Finds pending deliveries whose ARQ job is gone (Redis restarted, enqueue lost) and re-enqueues.

A killed worker's job is not gone: ARQ runs it again once its in-progress lease expires. The
grace keeps the sweeper away from deliveries whose job is merely running late.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from payflow_webhooks.delivery_queue import DeliveryQueue
from payflow_webhooks.delivery_store import DeliveryStore
from payflow_webhooks.domain.moments import utc_now
from payflow_webhooks.metrics import REENQUEUED

logger = logging.getLogger(__name__)


class StalledDeliverySweeper:
    def __init__(
        self,
        deliveries: DeliveryStore,
        queue: DeliveryQueue,
        grace: timedelta,
        clock: Callable[[], datetime] = utc_now,
        batch: int = 200,
    ) -> None:
        self._deliveries = deliveries
        self._queue = queue
        self._grace = grace
        self._clock = clock
        self._batch = batch

    async def sweep(self) -> int:
        """One pass; answers how many deliveries it enqueued again."""
        overdue = await self._deliveries.overdue(self._clock() - self._grace, self._batch)
        revived = 0
        for delivery in overdue:
            if await self._queue.is_scheduled(delivery.id):
                continue
            if await self._queue.enqueue(delivery, delivery.traceparent):
                revived += 1
                REENQUEUED.inc()
                logger.warning("delivery %s had no job: enqueued again", delivery.id)
        return revived

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sweep()
            except (RedisError, PyMongoError, OSError) as exc:
                # Stores come back; the next pass picks up where this one failed.
                logger.warning("delivery sweep failed, retrying: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
