"""Webhook endpoints of one owner: create, list, get, update, delete, rotate the secret."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Response

from payflow_contracts import new_id
from payflow_contracts.clock import utc_now
from payflow_contracts.paging import cut_page
from payflow_service import InternalCaller, ProblemError
from payflow_service.paging import Cursor, Limit
from payflow_service.quotas import QuotaExceeded, quota_problem
from payflow_webhooks.deps import Endpoints, Guard, OwnerId, Settings
from payflow_webhooks.domain.endpoint import (
    change_endpoint,
    normalize_event_types,
    open_endpoint,
    rotate_secret,
)
from payflow_webhooks.domain.errors import (
    EndpointNotFound,
    InvalidEventTypes,
    UrlNotAllowed,
    UrlRejected,
)
from payflow_webhooks.endpoint_edits import edit_endpoint
from payflow_webhooks.schemas import (
    EndpointCreate,
    EndpointCreated,
    EndpointPage,
    EndpointResource,
    EndpointUpdate,
    RotatedSecret,
)
from payflow_webhooks.url_guard import UrlGuard

router = APIRouter(prefix="/internal/webhook-endpoints", tags=["webhook endpoints"])


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


@router.post("", status_code=201)
async def create_endpoint(
    body: EndpointCreate,
    owner_id: OwnerId,
    endpoints: Endpoints,
    guard: Guard,
    settings: Settings,
    _: InternalCaller,
) -> EndpointCreated:
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
    return EndpointCreated.of(endpoint)


@router.get("")
async def list_endpoints(
    owner_id: OwnerId,
    endpoints: Endpoints,
    _: InternalCaller,
    cursor: Cursor,
    limit: Limit = 20,
) -> EndpointPage:
    found = await endpoints.page(owner_id, limit, cursor)
    items, next_cursor = cut_page(found, limit, lambda e: e.position)
    return EndpointPage(data=[EndpointResource.of(e) for e in items], next_cursor=next_cursor)


@router.get("/{endpoint_id}")
async def get_endpoint(
    endpoint_id: str, owner_id: OwnerId, endpoints: Endpoints, _: InternalCaller
) -> EndpointResource:
    endpoint = await endpoints.get(endpoint_id, owner_id)
    if endpoint is None:
        raise EndpointNotFound(endpoint_id)
    return EndpointResource.of(endpoint)


@router.patch("/{endpoint_id}")
async def update_endpoint(
    endpoint_id: str,
    owner_id: OwnerId,
    endpoints: Endpoints,
    guard: Guard,
    _: InternalCaller,
    body: Annotated[EndpointUpdate, Body()],
) -> EndpointResource:
    """Change the URL, event types, description, or `status` (enabled/disabled)."""
    sent = body.model_fields_set
    if "url" in sent and body.url is None:
        raise _invalid("url", "url cannot be null")
    if "event_types" in sent and body.event_types is None:
        raise _invalid("event_types", "event_types cannot be null")
    event_types = _checked_event_types(body.event_types) if body.event_types is not None else None
    url = await _vetted_url(guard, body.url) if body.url is not None else None
    now = utc_now()
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
    return EndpointResource.of(updated)


@router.delete("/{endpoint_id}", status_code=204)
async def delete_endpoint(
    endpoint_id: str, owner_id: OwnerId, endpoints: Endpoints, _: InternalCaller
) -> Response:
    if not await endpoints.delete(endpoint_id, owner_id):
        raise EndpointNotFound(endpoint_id)
    return Response(status_code=204)


@router.post("/{endpoint_id}/rotate-secret")
async def rotate_endpoint_secret(
    endpoint_id: str,
    owner_id: OwnerId,
    endpoints: Endpoints,
    settings: Settings,
    _: InternalCaller,
) -> RotatedSecret:
    """A new secret; the old one keeps signing beside it for the overlap (24 h by default)."""
    overlap = timedelta(seconds=settings.webhook_secret_overlap_s)
    now = utc_now()
    rotated = await edit_endpoint(
        endpoints, endpoint_id, owner_id, lambda current: rotate_secret(current, now, overlap)
    )
    return RotatedSecret(secret=rotated.secret)
