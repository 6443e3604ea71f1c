"""Deliveries of one endpoint (with their attempts) and replaying a delivery."""

from __future__ import annotations

from fastapi import APIRouter

from payflow_contracts.clock import utc_now
from payflow_contracts.paging import cut_page
from payflow_observability import inject_traceparent
from payflow_service import InternalCaller, ProblemError
from payflow_service.paging import Cursor, Limit
from payflow_webhooks.deps import Deliveries, Endpoints, OwnerId, Queue, Replays
from payflow_webhooks.domain.delivery import Delivery, DeliveryStatus
from payflow_webhooks.domain.errors import DeliveryNotFound, EndpointNotFound, QuotaSpent
from payflow_webhooks.ports import DeliveryStore
from payflow_webhooks.replays import replay_delivery
from payflow_webhooks.schemas import DeliveryPage, DeliveryResource

router = APIRouter(prefix="/internal", tags=["webhook deliveries"])


async def _resource(deliveries: DeliveryStore, delivery: Delivery) -> DeliveryResource:
    attempts = await deliveries.attempts_of([delivery.id])
    return DeliveryResource.of(delivery, attempts[delivery.id])


@router.get("/webhook-endpoints/{endpoint_id}/deliveries")
async def list_deliveries(
    endpoint_id: str,
    owner_id: OwnerId,
    endpoints: Endpoints,
    deliveries: Deliveries,
    _: InternalCaller,
    cursor: Cursor,
    status: DeliveryStatus | None = None,
    limit: Limit = 20,
) -> DeliveryPage:
    """Newest first, each with every attempt (time, status code, duration, error)."""
    if await endpoints.get(endpoint_id, owner_id) is None:
        raise EndpointNotFound(endpoint_id)
    found = await deliveries.page(endpoint_id, status, limit, cursor)
    items, next_cursor = cut_page(found, limit, lambda d: d.position)
    attempts = await deliveries.attempts_of([d.id for d in items])
    return DeliveryPage(
        data=[DeliveryResource.of(d, attempts[d.id]) for d in items], next_cursor=next_cursor
    )


@router.get("/webhook-deliveries/{delivery_id}")
async def get_delivery(
    delivery_id: str,
    owner_id: OwnerId,
    endpoints: Endpoints,
    deliveries: Deliveries,
    _: InternalCaller,
) -> DeliveryResource:
    delivery = await deliveries.get(delivery_id, owner_id)
    if delivery is None or await endpoints.get(delivery.endpoint_id, owner_id) is None:
        raise DeliveryNotFound(delivery_id)
    return await _resource(deliveries, delivery)


@router.post("/webhook-deliveries/{delivery_id}/retry", status_code=202)
async def retry_delivery(
    delivery_id: str,
    owner_id: OwnerId,
    endpoints: Endpoints,
    deliveries: Deliveries,
    queue: Queue,
    replays: Replays,
    _: InternalCaller,
) -> DeliveryResource:
    """Send the delivery again now (any status), with a fresh round of the retry schedule;
    at most `PAYFLOW_MAX_DELIVERY_RETRIES_PER_HOUR` per owner and clock hour."""
    try:
        delivery = await replay_delivery(
            deliveries=deliveries,
            endpoints=endpoints,
            queue=queue,
            quota=replays,
            delivery_id=delivery_id,
            owner_id=owner_id,
            now=utc_now(),
            traceparent=inject_traceparent().get("traceparent"),
        )
    except QuotaSpent as spent:
        raise ProblemError(
            429,
            "quota_exceeded",
            f"You asked for {spent.per_hour} retries of deliveries this hour, the most one user "
            "may (PAYFLOW_MAX_DELIVERY_RETRIES_PER_HOUR); retry after Retry-After seconds.",
            headers={"Retry-After": str(spent.retry_after)},
        ) from None
    return await _resource(deliveries, delivery)
