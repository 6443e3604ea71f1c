"""Finds pending deliveries whose ARQ job is gone (Redis restarted, enqueue lost) and re-enqueues.

A killed worker's job is not gone: ARQ runs it again once its in-progress lease expires. The
grace keeps the sweeper away from deliveries whose job is merely running late. The worker's
composition root runs `sweep` under `payflow_service.loops.run_periodically`: a pass that fails
(a store away) is logged and the next one picks up where it failed.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from payflow_contracts.clock import Clock, utc_now
from payflow_webhooks.metrics import REENQUEUED
from payflow_webhooks.ports import DeliveryQueue, DeliveryStore

logger = logging.getLogger(__name__)


class StalledDeliverySweeper:
    def __init__(
        self,
        deliveries: DeliveryStore,
        queue: DeliveryQueue,
        grace: timedelta,
        clock: Clock = utc_now,
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
            if await self._queue.is_scheduled(delivery):
                continue
            if await self._queue.enqueue(delivery, delivery.traceparent):
                revived += 1
                REENQUEUED.inc()
                logger.warning("delivery %s had no job: enqueued again", delivery.id)
        return revived
