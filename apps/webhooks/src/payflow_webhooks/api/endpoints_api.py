"""Webhook endpoints of one owner: create, list, get, update, delete, rotate the secret."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from pydantic import BaseModel, ConfigDict, Field

from payflow_contracts import new_id
from payflow_service import InternalCaller, ProblemError
from payflow_service.quotas import QuotaExceeded, quota_problem
from payflow_webhooks.api.deps import (
    Endpoints,
    Guard,
    Limit,
    OwnerId,
    Settings,
    invalid_cursor,
)
from payflow_webhooks.domain.endpoint import (
    EndpointStatus,
    InvalidEventTypes,
    WebhookEndpoint,
    change_endpoint,
    endpoint_view,
    normalize_event_types,
    open_endpoint,
    rotate_secret,
)
from payflow_webhooks.domain.moments import utc_now
from payflow_webhooks.domain.url_rules import UrlRejected
from payflow_webhooks.endpoint_edits import EditConflict, edit_endpoint
from payflow_webhooks.paging import InvalidCursor
from payflow_webhooks.url_guard import UrlGuard, UrlNotAllowed

router = APIRouter(prefix="/internal/webhook-endpoints", tags=["webhook endpoints"])


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2048)
    event_types: list[str] = Field(min_length=1, max_length=10)
    description: str | None = Field(default=None, max_length=500)


class EndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(default=None, min_length=1, max_length=2048)
    event_types: list[str] | None = Field(default=None, min_length=1, max_length=10)
    description: str | None = Field(default=None, max_length=500)
    status: EndpointStatus | None = None


def _not_found() -> ProblemError:
    return ProblemError(404, "webhook_endpoint_not_found", "No such webhook endpoint.")


def _invalid(field: str, message: str) -> ProblemError:
    return ProblemError(
        422,
        "validation_error",
        "The request is not valid.",
        errors=[{"loc": f"body.{field}", "msg": message}],
    )


async def _vetted_url(guard: UrlGuard, url: str) -> str:
    try:
        await guard.vet_new_url(url)
    except UrlRejected as exc:
        raise _invalid("url", str(exc)) from None
    except UrlNotAllowed as exc:
        raise ProblemError(
            422,
            "webhook_url_not_allowed",
            "Webhook URLs must resolve to public addresses.",
            errors=[{"loc": "body.url", "msg": str(exc)}],
        ) from None
    return url


def _checked_event_types(event_types: list[str]) -> list[str]:
    try:
        return list(normalize_event_types(event_types))
    except InvalidEventTypes as exc:
        raise _invalid("event_types", str(exc)) from None


def _with_secret(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {**endpoint_view(endpoint), "secret": endpoint.secret}


@router.post("", status_code=201)
async def create_endpoint(
    body: EndpointCreate,
    owner_id: OwnerId,
    endpoints: Endpoints,
    guard: Guard,
    settings: Settings,
    _: InternalCaller,
) -> dict[str, Any]:
    """Create an endpoint; the answer carries its `secret`, shown only here and on rotation."""
    event_types = _checked_event_types(body.event_types)
    url = await _vetted_url(guard, body.url)
    endpoint = open_endpoint(
        endpoint_id=new_id("we"),
        owner_id=owner_id,
        url=url,
        event_types=event_types,
        description=body.description,
        now=utc_now(),
    )
    try:
        await endpoints.add(endpoint, cap=settings.max_webhook_endpoints_per_user)
    except QuotaExceeded as exceeded:
        raise quota_problem(
            exceeded, "webhook endpoints", "PAYFLOW_MAX_WEBHOOK_ENDPOINTS_PER_USER"
        ) from None
    return _with_secret(endpoint)


@router.get("")
async def list_endpoints(
    owner_id: OwnerId,
    endpoints: Endpoints,
    _: InternalCaller,
    limit: Limit = 20,
    cursor: str | None = None,
) -> dict[str, Any]:
    try:
        items, next_cursor = await endpoints.page(owner_id, limit, cursor)
    except InvalidCursor:
        raise invalid_cursor() from None
    return {"data": [endpoint_view(e) for e in items], "next_cursor": next_cursor}


@router.get("/{endpoint_id}")
async def get_endpoint(
    endpoint_id: str, owner_id: OwnerId, endpoints: Endpoints, _: InternalCaller
) -> dict[str, Any]:
    endpoint = await endpoints.get(endpoint_id, owner_id)
    if endpoint is None:
        raise _not_found()
    return endpoint_view(endpoint)


@router.patch("/{endpoint_id}")
async def update_endpoint(
    endpoint_id: str,
    owner_id: OwnerId,
    endpoints: Endpoints,
    guard: Guard,
    _: InternalCaller,
    body: Annotated[EndpointUpdate, Body()],
) -> dict[str, Any]:
    """Change the URL, event types, description, or `status` (enabled/disabled)."""
    sent = body.model_fields_set
    if "url" in sent and body.url is None:
        raise _invalid("url", "url cannot be null")
    if "event_types" in sent and body.event_types is None:
        raise _invalid("event_types", "event_types cannot be null")
    event_types = _checked_event_types(body.event_types) if body.event_types is not None else None
    url = await _vetted_url(guard, body.url) if body.url is not None else None
    now = utc_now()
    try:
        updated = await edit_endpoint(
            endpoints,
            endpoint_id,
            owner_id,
            lambda current: change_endpoint(
                current,
                now,
                url=url,
                event_types=event_types,
                description=body.description,
                clear_description="description" in sent and body.description is None,
                status=body.status,
            ),
        )
    except EditConflict:
        raise ProblemError(409, "conflict", "The endpoint changed meanwhile; retry.") from None
    if updated is None:
        raise _not_found()
    return endpoint_view(updated)


@router.delete("/{endpoint_id}", status_code=204)
async def delete_endpoint(
    endpoint_id: str, owner_id: OwnerId, endpoints: Endpoints, _: InternalCaller
) -> Response:
    if not await endpoints.delete(endpoint_id, owner_id):
        raise _not_found()
    return Response(status_code=204)


@router.post("/{endpoint_id}/rotate-secret")
async def rotate_endpoint_secret(
    endpoint_id: str,
    owner_id: OwnerId,
    endpoints: Endpoints,
    settings: Settings,
    _: InternalCaller,
) -> dict[str, Any]:
    """A new secret; the old one keeps signing beside it for the overlap (24 h by default)."""
    overlap = timedelta(seconds=settings.webhook_secret_overlap_s)
    now = utc_now()
    try:
        rotated = await edit_endpoint(
            endpoints, endpoint_id, owner_id, lambda current: rotate_secret(current, now, overlap)
        )
    except EditConflict:
        raise ProblemError(409, "conflict", "The endpoint changed meanwhile; retry.") from None
    if rotated is None:
        raise _not_found()
    return {"secret": rotated.secret}
