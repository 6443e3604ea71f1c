"""Events about transfers that touch the owner's wallets."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from payflow_service import InternalCaller, ProblemError
from payflow_webhooks.api.deps import Events, Limit, OwnerId, invalid_cursor
from payflow_webhooks.domain.event import event_view
from payflow_webhooks.paging import InvalidCursor

router = APIRouter(prefix="/internal/events", tags=["events"])

EventType = Literal[
    "transfer.created",
    "transfer.completed",
    "transfer.failed",
    "transfer.refunded",
    "payment_link.paid",
]


@router.get("")
async def list_events(
    owner_id: OwnerId,
    events: Events,
    _: InternalCaller,
    event_type: Annotated[EventType | None, Query(alias="type")] = None,
    limit: Limit = 20,
    cursor: str | None = None,
) -> dict[str, Any]:
    try:
        items, next_cursor = await events.page(owner_id, event_type, limit, cursor)
    except InvalidCursor:
        raise invalid_cursor() from None
    return {"data": [event_view(e) for e in items], "next_cursor": next_cursor}


@router.get("/{event_id}")
async def get_event(
    event_id: str, owner_id: OwnerId, events: Events, _: InternalCaller
) -> dict[str, Any]:
    event = await events.get(event_id, owner_id)
    if event is None:
        raise ProblemError(404, "event_not_found", "No such event.")
    return event_view(event)
