"""Where deliveries and their attempts live: a protocol, its MongoDB adapter and an in-memory twin.

One delivery per (event, endpoint), enforced by a unique index. Delivery changes are
compare-and-set on `version`. Each attempt is its own document: appending to an array inside
the delivery would need `$push` of sub-documents, which the embedded store mangles.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from beanie import Document
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from payflow_webhooks.domain.delivery import Attempt, Delivery, DeliveryStatus
from payflow_webhooks.paging import before_cursor, next_cursor_of, page_in_memory, position_of


class DeliveryStore(Protocol):
    async def add(self, delivery: Delivery) -> Delivery:
        """Store a new delivery, or answer the one that exists for its (event, endpoint)."""
        ...

    async def get(self, delivery_id: str, owner_id: str | None = None) -> Delivery | None: ...
    async def compare_and_set(self, delivery: Delivery, expected_version: int) -> bool: ...
    async def page(
        self, endpoint_id: str, status: DeliveryStatus | None, limit: int, cursor: str | None
    ) -> tuple[list[Delivery], str | None]: ...
    async def overdue(self, due_before: datetime, limit: int) -> list[Delivery]:
        """Pending deliveries whose next attempt was due before `due_before`, oldest first."""
        ...

    async def record_attempt(self, attempt: Attempt) -> None: ...
    async def attempts_of(self, delivery_ids: Sequence[str]) -> dict[str, list[Attempt]]: ...


class DeliveryDocument(Document):
    """Schema and indexes of `webhook_deliveries`. `due_at_ms` is the next attempt of a pending
    delivery (null once settled), so the sweeper's query is bounded by the work due, not by the
    history of deliveries."""

    class Settings:
        name = "webhook_deliveries"
        indexes = [
            IndexModel(
                [("event_id", ASCENDING), ("endpoint_id", ASCENDING)],
                unique=True,
                name="one_delivery_per_event_and_endpoint",
            ),
            IndexModel([("endpoint_id", ASCENDING), ("position", DESCENDING)], name="by_endpoint"),
            IndexModel([("due_at_ms", ASCENDING)], name="by_due_at"),
        ]


class AttemptDocument(Document):
    """Schema and indexes of `webhook_attempts` (one document per HTTP attempt)."""

    class Settings:
        name = "webhook_attempts"
        indexes = [IndexModel([("delivery_id", ASCENDING), ("at", ASCENDING)], name="by_delivery")]


def _position(delivery: Delivery) -> str:
    return position_of(delivery.created_at, delivery.id)


def _to_document(item: Delivery | Attempt) -> dict[str, Any]:
    data = item.model_dump(mode="python")
    data["_id"] = data.pop("id")
    if isinstance(item, Delivery):
        data["position"] = _position(item)
        due = item.next_attempt_at if item.is_pending else None
        data["due_at_ms"] = int(due.timestamp() * 1000) if due is not None else None
    return data


def _delivery(data: dict[str, Any]) -> Delivery:
    data = dict(data)
    data["id"] = data.pop("_id")
    data.pop("position", None)
    data.pop("due_at_ms", None)
    return Delivery.model_validate(data)


def _attempt(data: dict[str, Any]) -> Attempt:
    data = dict(data)
    data["id"] = data.pop("_id")
    return Attempt.model_validate(data)


class MongoDeliveryStore:
    def __init__(self, deliveries: Any, attempts: Any) -> None:
        self._deliveries = deliveries
        self._attempts = attempts

    async def add(self, delivery: Delivery) -> Delivery:
        try:
            await self._deliveries.insert_one(_to_document(delivery))
        except DuplicateKeyError:
            data = await self._deliveries.find_one(
                {"event_id": delivery.event_id, "endpoint_id": delivery.endpoint_id}
            )
            if data is None:  # the id collided, not the pair: astronomically unlikely
                raise
            return _delivery(data)
        return delivery

    async def get(self, delivery_id: str, owner_id: str | None = None) -> Delivery | None:
        query: dict[str, Any] = {"_id": delivery_id}
        if owner_id is not None:
            query["owner_id"] = owner_id
        data = await self._deliveries.find_one(query)
        return _delivery(data) if data else None

    async def compare_and_set(self, delivery: Delivery, expected_version: int) -> bool:
        fields = _to_document(delivery)
        fields.pop("_id")
        fields.pop("body")  # fixed at opening: never rewritten
        result = await self._deliveries.update_one(
            {"_id": delivery.id, "version": expected_version}, {"$set": fields}
        )
        return bool(result.modified_count == 1)

    async def page(
        self, endpoint_id: str, status: DeliveryStatus | None, limit: int, cursor: str | None
    ) -> tuple[list[Delivery], str | None]:
        clauses: list[dict[str, Any]] = [{"endpoint_id": endpoint_id}]
        if status is not None:
            clauses.append({"status": status.value})
        older = before_cursor(cursor)
        if older:
            clauses.append(older)
        found = self._deliveries.find({"$and": clauses}).sort([("position", DESCENDING)])
        items = [_delivery(d) async for d in found.limit(limit + 1)]
        return items[:limit], next_cursor_of(items, limit, _position)

    async def overdue(self, due_before: datetime, limit: int) -> list[Delivery]:
        found = (
            self._deliveries.find({"due_at_ms": {"$lte": int(due_before.timestamp() * 1000)}})
            .sort([("due_at_ms", ASCENDING)])
            .limit(limit)
        )
        return [_delivery(d) async for d in found]

    async def record_attempt(self, attempt: Attempt) -> None:
        await self._attempts.insert_one(_to_document(attempt))

    async def attempts_of(self, delivery_ids: Sequence[str]) -> dict[str, list[Attempt]]:
        grouped: dict[str, list[Attempt]] = {i: [] for i in delivery_ids}
        if not delivery_ids:
            return grouped
        found = self._attempts.find({"delivery_id": {"$in": list(delivery_ids)}}).sort(
            [("at", ASCENDING)]
        )
        async for data in found:
            attempt = _attempt(data)
            grouped[attempt.delivery_id].append(attempt)
        return grouped


class InMemoryDeliveryStore:
    def __init__(self) -> None:
        self._deliveries: dict[str, Delivery] = {}
        self._attempts: dict[str, list[Attempt]] = defaultdict(list)

    async def add(self, delivery: Delivery) -> Delivery:
        for existing in self._deliveries.values():
            if (existing.event_id, existing.endpoint_id) == (
                delivery.event_id,
                delivery.endpoint_id,
            ):
                return existing
        self._deliveries[delivery.id] = delivery
        return delivery

    async def get(self, delivery_id: str, owner_id: str | None = None) -> Delivery | None:
        found = self._deliveries.get(delivery_id)
        if found is None or (owner_id is not None and found.owner_id != owner_id):
            return None
        return found

    async def compare_and_set(self, delivery: Delivery, expected_version: int) -> bool:
        current = self._deliveries.get(delivery.id)
        if current is None or current.version != expected_version:
            return False
        self._deliveries[delivery.id] = delivery
        return True

    async def page(
        self, endpoint_id: str, status: DeliveryStatus | None, limit: int, cursor: str | None
    ) -> tuple[list[Delivery], str | None]:
        matching = [
            d
            for d in self._deliveries.values()
            if d.endpoint_id == endpoint_id and (status is None or d.status is status)
        ]
        return page_in_memory(matching, _position, limit, cursor)

    async def overdue(self, due_before: datetime, limit: int) -> list[Delivery]:
        due = [
            d
            for d in self._deliveries.values()
            if d.is_pending and d.next_attempt_at is not None and d.next_attempt_at <= due_before
        ]
        return sorted(due, key=lambda d: d.next_attempt_at or due_before)[:limit]

    async def record_attempt(self, attempt: Attempt) -> None:
        self._attempts[attempt.delivery_id].append(attempt)

    async def attempts_of(self, delivery_ids: Sequence[str]) -> dict[str, list[Attempt]]:
        return {i: sorted(self._attempts.get(i, []), key=lambda a: a.at) for i in delivery_ids}
