"""Replay: send a delivery again now (also a failed or succeeded one), with a fresh schedule."""

from __future__ import annotations

from datetime import datetime

from payflow_webhooks.domain.delivery import Delivery, replay
from payflow_webhooks.domain.errors import DeliveryNotFound, EndpointDisabled, ReplayConflict
from payflow_webhooks.ports import DeliveryQueue, DeliveryStore, EndpointStore, ReplayQuota

MAX_REPLAY_TRIES = 5


async def replay_delivery(
    *,
    deliveries: DeliveryStore,
    endpoints: EndpointStore,
    queue: DeliveryQueue,
    quota: ReplayQuota,
    delivery_id: str,
    owner_id: str,
    now: datetime,
    traceparent: str | None,
) -> Delivery:
    """The replayed delivery. A replay that is about to happen is counted against the owner's
    hourly quota first (`QuotaSpent` when it is used up: nothing changes)."""
    give_back = None
    for _ in range(MAX_REPLAY_TRIES):
        current = await deliveries.get(delivery_id, owner_id)
        if current is None:
            raise DeliveryNotFound(delivery_id)
        endpoint = await endpoints.get(current.endpoint_id, owner_id)
        if endpoint is None:
            # The endpoint was deleted: its deliveries are gone for the owner too.
            raise DeliveryNotFound(delivery_id)
        if not endpoint.enabled:
            raise EndpointDisabled(endpoint.id)
        again = replay(current, now)
        if give_back is None:
            give_back = await quota.take(owner_id)
        if await deliveries.compare_and_set(again, current.version):
            # The replay joins the trace of the request that asked for it.
            await queue.enqueue(again, traceparent or again.traceparent)
            return again
    if give_back is not None:
        await give_back()
    raise ReplayConflict(delivery_id)
