"""Deliveries of one endpoint (with their attempts) and replaying a delivery."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from payflow_observability import inject_traceparent
from payflow_service import InternalCaller, ProblemError
from payflow_webhooks.api.deps import (
    Deliveries,
    Endpoints,
    Limit,
    OwnerId,
    Queue,
    Replays,
    invalid_cursor,
)
from payflow_webhooks.domain.delivery import DeliveryStatus, delivery_view
from payflow_webhooks.domain.moments import utc_now
from payflow_webhooks.paging import InvalidCursor
from payflow_webhooks.replay_quota import QuotaSpent
from payflow_webhooks.replays import (
    DeliveryNotFound,
    EndpointDisabled,
    ReplayConflict,
    replay_delivery,
)

router = APIRouter(prefix="/internal", tags=["webhook deliveries"])


def _delivery_not_found() -> ProblemError:
    return ProblemError(404, "delivery_not_found", "No such delivery.")


@router.get("/webhook-endpoints/{endpoint_id}/deliveries")
async def list_deliveries(
    endpoint_id: str,
    owner_id: OwnerId,
    endpoints: Endpoints,
    deliveries: Deliveries,
    _: InternalCaller,
    status: DeliveryStatus | None = None,
    limit: Limit = 20,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Newest first, each with every attempt (time, status code, duration, error)."""
    if await endpoints.get(endpoint_id, owner_id) is None:
        raise ProblemError(404, "webhook_endpoint_not_found", "No such webhook endpoint.")
    try:
        items, next_cursor = await deliveries.page(endpoint_id, status, limit, cursor)
    except InvalidCursor:
        raise invalid_cursor() from None
    attempts = await deliveries.attempts_of([d.id for d in items])
    return {
        "data": [delivery_view(d, attempts[d.id]) for d in items],
        "next_cursor": next_cursor,
    }


@router.get("/webhook-deliveries/{delivery_id}")
async def get_delivery(
    delivery_id: str,
    owner_id: OwnerId,
    endpoints: Endpoints,
    deliveries: Deliveries,
    _: InternalCaller,
) -> dict[str, Any]:
    delivery = await deliveries.get(delivery_id, owner_id)
    if delivery is None or await endpoints.get(delivery.endpoint_id, owner_id) is None:
        raise _delivery_not_found()
    attempts = await deliveries.attempts_of([delivery.id])
    return delivery_view(delivery, attempts[delivery.id])


@router.post("/webhook-deliveries/{delivery_id}/retry", status_code=202)
async def retry_delivery(
    delivery_id: str,
    owner_id: OwnerId,
    endpoints: Endpoints,
    deliveries: Deliveries,
    queue: Queue,
    replays: Replays,
    _: InternalCaller,
) -> dict[str, Any]:
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
    except DeliveryNotFound:
        raise _delivery_not_found() from None
    except EndpointDisabled:
        raise ProblemError(
            409,
            "webhook_endpoint_disabled",
            "The delivery's endpoint is disabled; enable it before replaying.",
        ) from None
    except QuotaSpent as spent:
        raise ProblemError(
            429,
            "quota_exceeded",
            f"You asked for {spent.per_hour} retries of deliveries this hour, the most one user "
            "may (PAYFLOW_MAX_DELIVERY_RETRIES_PER_HOUR); retry after Retry-After seconds.",
            headers={"Retry-After": str(spent.retry_after)},
        ) from None
    except ReplayConflict:
        raise ProblemError(409, "conflict", "The delivery changed meanwhile; retry.") from None
    attempts = await deliveries.attempts_of([delivery.id])
    return delivery_view(delivery, attempts[delivery.id])
