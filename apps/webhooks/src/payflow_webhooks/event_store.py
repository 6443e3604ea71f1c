"""Where domain events are kept, once each (the event id is the document id)."""

from __future__ import annotations

from typing import Any, Protocol

from beanie import Document
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from payflow_webhooks.domain.event import WebhookEvent
from payflow_webhooks.paging import before_cursor, next_cursor_of, page_in_memory, position_of


class EventStore(Protocol):
    async def add(self, event: WebhookEvent) -> WebhookEvent:
        """Store the event unless it is stored already; answer the stored one either way."""
        ...

    async def get(self, event_id: str, owner_id: str | None = None) -> WebhookEvent | None: ...
    async def page(
        self, owner_id: str, event_type: str | None, limit: int, cursor: str | None
    ) -> tuple[list[WebhookEvent], str | None]: ...


class EventDocument(Document):
    """Schema and indexes of `webhook_events`."""

    class Settings:
        name = "webhook_events"
        indexes = [
            IndexModel([("owner_ids", ASCENDING), ("position", DESCENDING)], name="by_owner"),
        ]


def _position(event: WebhookEvent) -> str:
    return position_of(event.created_at, event.id)


def _to_document(event: WebhookEvent) -> dict[str, Any]:
    data = event.model_dump(mode="python")
    data["_id"] = data.pop("id")
    data["owner_ids"] = list(data["owner_ids"])
    data["position"] = _position(event)
    return data


def _from_document(data: dict[str, Any]) -> WebhookEvent:
    data = dict(data)
    data["id"] = data.pop("_id")
    data.pop("position", None)
    return WebhookEvent.model_validate(data)


class MongoEventStore:
    def __init__(self, collection: Any) -> None:
        self._collection = collection

    async def add(self, event: WebhookEvent) -> WebhookEvent:
        try:
            await self._collection.insert_one(_to_document(event))
        except DuplicateKeyError:
            stored = await self.get(event.id)
            if stored is None:  # deleted between the two calls: nothing deletes events
                raise
            return stored
        return event

    async def get(self, event_id: str, owner_id: str | None = None) -> WebhookEvent | None:
        query: dict[str, Any] = {"_id": event_id}
        if owner_id is not None:
            query["owner_ids"] = owner_id
        data = await self._collection.find_one(query)
        return _from_document(data) if data else None

    async def page(
        self, owner_id: str, event_type: str | None, limit: int, cursor: str | None
    ) -> tuple[list[WebhookEvent], str | None]:
        clauses: list[dict[str, Any]] = [{"owner_ids": owner_id}]
        if event_type:
            clauses.append({"type": event_type})
        older = before_cursor(cursor)
        if older:
            clauses.append(older)
        found = self._collection.find({"$and": clauses}).sort([("position", DESCENDING)])
        items = [_from_document(d) async for d in found.limit(limit + 1)]
        return items[:limit], next_cursor_of(items, limit, _position)


class InMemoryEventStore:
    def __init__(self) -> None:
        self._items: dict[str, WebhookEvent] = {}

    async def add(self, event: WebhookEvent) -> WebhookEvent:
        return self._items.setdefault(event.id, event)

    async def get(self, event_id: str, owner_id: str | None = None) -> WebhookEvent | None:
        found = self._items.get(event_id)
        if found is None or (owner_id is not None and not found.visible_to(owner_id)):
            return None
        return found

    async def page(
        self, owner_id: str, event_type: str | None, limit: int, cursor: str | None
    ) -> tuple[list[WebhookEvent], str | None]:
        mine = [
            e
            for e in self._items.values()
            if e.visible_to(owner_id) and (event_type is None or e.type == event_type)
        ]
        return page_in_memory(mine, _position, limit, cursor)
