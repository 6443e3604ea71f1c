"""Events about transfers that touch the owner's wallets."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from payflow_contracts.paging import cut_page
from payflow_service import InternalCaller
from payflow_service.paging import Cursor, Limit
from payflow_webhooks.deps import Events, OwnerId
from payflow_webhooks.domain.errors import EventNotFound
from payflow_webhooks.schemas import EventPage, EventResource

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
    cursor: Cursor,
    event_type: Annotated[EventType | None, Query(alias="type")] = None,
    limit: Limit = 20,
) -> EventPage:
    found = await events.page(owner_id, event_type, limit, cursor)
    items, next_cursor = cut_page(found, limit, lambda e: e.position)
    return EventPage(data=[EventResource.of(e) for e in items], next_cursor=next_cursor)


@router.get("/{event_id}")
async def get_event(
    event_id: str, owner_id: OwnerId, events: Events, _: InternalCaller
) -> EventResource:
    event = await events.get(event_id, owner_id)
    if event is None:
        raise EventNotFound(event_id)
    return EventResource.of(event)
