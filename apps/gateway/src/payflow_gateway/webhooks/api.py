"""`/v1/webhook-endpoints`, `/v1/webhook-deliveries`, `/v1/events`: each call is passed to the
webhooks service's internal API on behalf of the caller, whose answers (and problem documents)
already have the public shape."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import httpx
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from payflow_gateway.auth.dependencies import CurrentUser
from payflow_gateway.ids import segment
from payflow_gateway.internal_http import call_service
from payflow_gateway.payments.schemas import problems

router = APIRouter(prefix="/v1", tags=["webhooks"])

EventType = Literal[
    "transfer.created",
    "transfer.completed",
    "transfer.failed",
    "transfer.refunded",
    "payment_link.paid",
    "*",
]
COMPONENT_KEY = "webhooks_client"


class WebhookEndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=2048, description="http(s) URL that receives the deliveries")
    event_types: list[EventType] = Field(min_length=1)
    description: str | None = Field(default=None, max_length=500)


class WebhookEndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(default=None, max_length=2048)
    event_types: list[EventType] | None = Field(default=None, min_length=1)
    description: str | None = Field(default=None, max_length=500)
    status: Literal["enabled", "disabled"] | None = None


async def webhooks_client(request: Request) -> httpx.AsyncClient:
    return request.app.state.runtime.components[COMPONENT_KEY]  # type: ignore[no-any-return]


Client = Annotated[httpx.AsyncClient, Depends(webhooks_client)]


async def relay(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    owner_id: str,
    *,
    json: Any = None,
    params: dict[str, Any] | None = None,
) -> Response:
    query = {k: v for k, v in (params or {}).items() if v is not None}
    query["owner_id"] = owner_id
    answer = await call_service(
        client, "webhooks", method, f"/internal{path}", params=query, json=json
    )
    passed_on = (
        {"retry-after": answer.headers["retry-after"]} if "retry-after" in answer.headers else None
    )
    return Response(
        content=answer.content,
        status_code=answer.status_code,
        media_type=answer.headers.get("content-type"),
        headers=passed_on,
    )


@router.post("/webhook-endpoints", status_code=201, responses=problems(409, 422))
async def create_endpoint(
    body: WebhookEndpointCreate, user: CurrentUser, client: Client
) -> Response:
    """Returns the endpoint with its signing `secret` (`whsec_...`), shown only here."""
    return await relay(client, "POST", "/webhook-endpoints", user.id, json=body.model_dump())


@router.get("/webhook-endpoints", responses=problems(400))
async def list_endpoints(
    user: CurrentUser,
    client: Client,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> Response:
    return await relay(
        client, "GET", "/webhook-endpoints", user.id, params={"limit": limit, "cursor": cursor}
    )


@router.get("/webhook-endpoints/{endpoint_id}", responses=problems(404))
async def get_endpoint(endpoint_id: str, user: CurrentUser, client: Client) -> Response:
    return await relay(client, "GET", f"/webhook-endpoints/{segment(endpoint_id)}", user.id)


@router.patch("/webhook-endpoints/{endpoint_id}", responses=problems(404, 409, 422))
async def update_endpoint(
    endpoint_id: str, body: WebhookEndpointUpdate, user: CurrentUser, client: Client
) -> Response:
    return await relay(
        client,
        "PATCH",
        f"/webhook-endpoints/{segment(endpoint_id)}",
        user.id,
        json=body.model_dump(exclude_unset=True),
    )


@router.delete("/webhook-endpoints/{endpoint_id}", status_code=204, responses=problems(404))
async def delete_endpoint(endpoint_id: str, user: CurrentUser, client: Client) -> Response:
    return await relay(client, "DELETE", f"/webhook-endpoints/{segment(endpoint_id)}", user.id)


@router.post("/webhook-endpoints/{endpoint_id}/rotate-secret", responses=problems(404))
async def rotate_secret(endpoint_id: str, user: CurrentUser, client: Client) -> Response:
    """A new secret; for 24 hours deliveries are signed with both the new and the old one."""
    return await relay(
        client, "POST", f"/webhook-endpoints/{segment(endpoint_id)}/rotate-secret", user.id
    )


@router.get("/webhook-endpoints/{endpoint_id}/deliveries", responses=problems(400, 404))
async def list_deliveries(
    endpoint_id: str,
    user: CurrentUser,
    client: Client,
    status: Literal["pending", "succeeded", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> Response:
    return await relay(
        client,
        "GET",
        f"/webhook-endpoints/{segment(endpoint_id)}/deliveries",
        user.id,
        params={"status": status, "limit": limit, "cursor": cursor},
    )


@router.get("/webhook-deliveries/{delivery_id}", responses=problems(404))
async def get_delivery(delivery_id: str, user: CurrentUser, client: Client) -> Response:
    return await relay(client, "GET", f"/webhook-deliveries/{segment(delivery_id)}", user.id)


@router.post(
    "/webhook-deliveries/{delivery_id}/retry", status_code=202, responses=problems(404, 409)
)
async def retry_delivery(delivery_id: str, user: CurrentUser, client: Client) -> Response:
    """Sends the delivery again now (also a `failed` one), with a fresh retry schedule. At most
    `PAYFLOW_MAX_DELIVERY_RETRIES_PER_HOUR` retries per user and clock hour: one more answers
    429 `quota_exceeded` with `Retry-After`."""
    return await relay(client, "POST", f"/webhook-deliveries/{segment(delivery_id)}/retry", user.id)


@router.get("/events", tags=["events"], responses=problems(400))
async def list_events(
    user: CurrentUser,
    client: Client,
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
        client, "GET", "/events", user.id, params={"type": type, "limit": limit, "cursor": cursor}
    )


@router.get("/events/{event_id}", tags=["events"], responses=problems(404))
async def get_event(event_id: str, user: CurrentUser, client: Client) -> Response:
    return await relay(client, "GET", f"/events/{segment(event_id)}", user.id)
