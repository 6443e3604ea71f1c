"""`/v1/webhook-endpoints`, `/v1/webhook-deliveries`, `/v1/events`: each call is passed to the
webhooks service's internal API on behalf of the caller, whose answers (and problem documents)
already have the public shape; the response models document them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from payflow_gateway.api.schemas import (
    Delivery,
    DeliveryList,
    Event,
    EventList,
    SigningSecret,
    WebhookEndpoint,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointList,
    WebhookEndpointUpdate,
)
from payflow_gateway.deps import CurrentUser, Webhooks
from payflow_gateway.ids import segment
from payflow_gateway.ports import WebhooksRelay
from payflow_gateway.problems import problem_responses

router = APIRouter(prefix="/v1", tags=["webhooks"])


async def relay(
    webhooks: WebhooksRelay,
    method: str,
    path: str,
    owner_id: str,
    *,
    json: Any = None,
    params: dict[str, Any] | None = None,
) -> Response:
    answer = await webhooks.relay(method, path, owner_id, json=json, params=params)
    return Response(
        content=answer.content,
        status_code=answer.status,
        media_type=answer.content_type,
        headers={"retry-after": answer.retry_after} if answer.retry_after is not None else None,
    )


@router.post(
    "/webhook-endpoints",
    status_code=201,
    response_model=WebhookEndpointCreated,
    responses=problem_responses(401, 409, 422),
)
async def create_endpoint(
    body: WebhookEndpointCreate, user: CurrentUser, webhooks: Webhooks
) -> Response:
    """Returns the endpoint with its signing `secret` (`whsec_...`), shown only here."""
    return await relay(webhooks, "POST", "/webhook-endpoints", user.id, json=body.model_dump())


@router.get(
    "/webhook-endpoints", response_model=WebhookEndpointList, responses=problem_responses(400, 401)
)
async def list_endpoints(
    user: CurrentUser,
    webhooks: Webhooks,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> Response:
    return await relay(
        webhooks, "GET", "/webhook-endpoints", user.id, params={"limit": limit, "cursor": cursor}
    )


@router.get(
    "/webhook-endpoints/{endpoint_id}",
    response_model=WebhookEndpoint,
    responses=problem_responses(401, 404),
)
async def get_endpoint(endpoint_id: str, user: CurrentUser, webhooks: Webhooks) -> Response:
    return await relay(webhooks, "GET", f"/webhook-endpoints/{segment(endpoint_id)}", user.id)


@router.patch(
    "/webhook-endpoints/{endpoint_id}",
    response_model=WebhookEndpoint,
    responses=problem_responses(401, 404, 409, 422),
)
async def update_endpoint(
    endpoint_id: str, body: WebhookEndpointUpdate, user: CurrentUser, webhooks: Webhooks
) -> Response:
    return await relay(
        webhooks,
        "PATCH",
        f"/webhook-endpoints/{segment(endpoint_id)}",
        user.id,
        json=body.model_dump(exclude_unset=True),
    )


@router.delete(
    "/webhook-endpoints/{endpoint_id}", status_code=204, responses=problem_responses(401, 404)
)
async def delete_endpoint(endpoint_id: str, user: CurrentUser, webhooks: Webhooks) -> Response:
    return await relay(webhooks, "DELETE", f"/webhook-endpoints/{segment(endpoint_id)}", user.id)


@router.post(
    "/webhook-endpoints/{endpoint_id}/rotate-secret",
    response_model=SigningSecret,
    responses=problem_responses(401, 404),
)
async def rotate_secret(endpoint_id: str, user: CurrentUser, webhooks: Webhooks) -> Response:
    """A new secret; for 24 hours deliveries are signed with both the new and the old one."""
    return await relay(
        webhooks, "POST", f"/webhook-endpoints/{segment(endpoint_id)}/rotate-secret", user.id
    )


@router.get(
    "/webhook-endpoints/{endpoint_id}/deliveries",
    response_model=DeliveryList,
    responses=problem_responses(400, 401, 404),
)
async def list_deliveries(
    endpoint_id: str,
    user: CurrentUser,
    webhooks: Webhooks,
    status: Literal["pending", "succeeded", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> Response:
    return await relay(
        webhooks,
        "GET",
        f"/webhook-endpoints/{segment(endpoint_id)}/deliveries",
        user.id,
        params={"status": status, "limit": limit, "cursor": cursor},
    )


@router.get(
    "/webhook-deliveries/{delivery_id}",
    response_model=Delivery,
    responses=problem_responses(401, 404),
)
async def get_delivery(delivery_id: str, user: CurrentUser, webhooks: Webhooks) -> Response:
    return await relay(webhooks, "GET", f"/webhook-deliveries/{segment(delivery_id)}", user.id)


@router.post(
    "/webhook-deliveries/{delivery_id}/retry",
    status_code=202,
    response_model=Delivery,
    responses=problem_responses(401, 404, 409),
)
async def retry_delivery(delivery_id: str, user: CurrentUser, webhooks: Webhooks) -> Response:
    """Sends the delivery again now (also a `failed` one), with a fresh retry schedule. At most
    `PAYFLOW_MAX_DELIVERY_RETRIES_PER_HOUR` retries per user and clock hour: one more answers
    429 `quota_exceeded` with `Retry-After`."""
    return await relay(
        webhooks, "POST", f"/webhook-deliveries/{segment(delivery_id)}/retry", user.id
    )


@router.get(
    "/events", tags=["events"], response_model=EventList, responses=problem_responses(400, 401)
)
async def list_events(
    user: CurrentUser,
    webhooks: Webhooks,
    type: Literal[
        "transfer.created",
        "transfer.completed",
        "transfer.failed",
        "transfer.refunded",
        "payment_link.paid",
    ]
    | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> Response:
    return await relay(
        webhooks, "GET", "/events", user.id, params={"type": type, "limit": limit, "cursor": cursor}
    )


@router.get(
    "/events/{event_id}",
    tags=["events"],
    response_model=Event,
    responses=problem_responses(401, 404),
)
async def get_event(event_id: str, user: CurrentUser, webhooks: Webhooks) -> Response:
    return await relay(webhooks, "GET", f"/events/{segment(event_id)}", user.id)
