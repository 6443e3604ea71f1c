"""The MongoDB adapters of the webhooks database, shared by the service and its worker.

Beanie `Document` classes declare the collections (indexes created by `init_beanie`); the stores
read and write through their pymongo collections with explicit filters and convert by hand.

Every endpoint write is one single-document operation. The owner's edits are compare-and-set on
`version`; the worker's writes (failing since, disable) are guarded by the field they change and
bump `version` too, so an edit made from a stale read is refused and retried, never lost.

One delivery per (event, endpoint), enforced by a unique index. Delivery changes are
compare-and-set on `version`. Each attempt is its own document: appending to an array inside
the delivery would need `$push` of sub-documents, which the embedded store mangles.

Events are kept once each (the event id is the document id).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from beanie import Document
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from payflow_contracts.paging import PagePosition
from payflow_service.mongo import DUPLICATE_KEY, insert_first
from payflow_service.quotas import SLOT_FIELD, insert_within_quota, quota_slot_index
from payflow_webhooks.domain.delivery import Attempt, Delivery, DeliveryStatus
from payflow_webhooks.domain.endpoint import (
    DisabledReason,
    EndpointStatus,
    RetiredSecret,
    WebhookEndpoint,
)
from payflow_webhooks.domain.event import WebhookEvent

Collection = AsyncCollection[dict[str, Any]]


# ---------------------------------------------------------------- the collections


class EndpointDocument(Document):
    """Schema and indexes of `webhook_endpoints` (written through raw single-document ops)."""

    class Settings:
        name = "webhook_endpoints"
        indexes = [
            IndexModel([("owner_id", ASCENDING), ("position", DESCENDING)], name="by_owner"),
            IndexModel([("owner_id", ASCENDING), ("status", ASCENDING)], name="by_owner_status"),
            quota_slot_index("owner_id"),
        ]


class EventDocument(Document):
    """Schema and indexes of `webhook_events`."""

    class Settings:
        name = "webhook_events"
        indexes = [
            IndexModel([("owner_ids", ASCENDING), ("position", DESCENDING)], name="by_owner"),
        ]


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
    """Schema and indexes of `webhook_attempts`: one document per HTTP attempt, as attempts were
    stored before they moved into their delivery's document (`attempts`). Only read now, so that
    deliveries attempted before still show their attempts."""

    class Settings:
        name = "webhook_attempts"
        indexes = [IndexModel([("delivery_id", ASCENDING), ("at", ASCENDING)], name="by_delivery")]


DOCUMENT_MODELS: list[type[Document]] = [
    EndpointDocument,
    EventDocument,
    DeliveryDocument,
    AttemptDocument,
]


def _older_than(after: PagePosition | None) -> list[dict[str, Any]]:
    """The clause of a newest-first page after `after` (none on the first page)."""
    return [{"position": {"$lt": after.key}}] if after is not None else []


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _moment(value: datetime | str) -> datetime:
    """A stored time as a datetime. The client decodes BSON dates (aware, UTC); a time that an
    older embedded store wrote through `$set` as a string is parsed, as reading always did."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _maybe_moment(value: datetime | str | None) -> datetime | None:
    return None if value is None else _moment(value)


def _value(member: StrEnum | None) -> str | None:
    return None if member is None else member.value


# ---------------------------------------------------------------- endpoints


def _endpoint_document(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """An endpoint as `webhook_endpoints` stores it (same fields, same order)."""
    return {
        "_id": endpoint.id,
        "owner_id": endpoint.owner_id,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types),
        "status": endpoint.status.value,
        "disabled_reason": _value(endpoint.disabled_reason),
        "secret": endpoint.secret,
        "retired_secrets": [
            {"secret": r.secret, "expires_at": r.expires_at} for r in endpoint.retired_secrets
        ],
        "failing_since": endpoint.failing_since,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
        "version": endpoint.version,
        "position": endpoint.position.key,
    }


def _endpoint(data: Mapping[str, Any]) -> WebhookEndpoint:
    reason = data.get("disabled_reason")
    return WebhookEndpoint(
        id=data["_id"],
        owner_id=data["owner_id"],
        url=data["url"],
        description=data.get("description"),
        event_types=tuple(data["event_types"]),
        status=EndpointStatus(data.get("status", EndpointStatus.ENABLED)),
        disabled_reason=DisabledReason(reason) if reason is not None else None,
        secret=data["secret"],
        retired_secrets=tuple(
            RetiredSecret(secret=r["secret"], expires_at=_moment(r["expires_at"]))
            for r in data.get("retired_secrets", ())
        ),
        failing_since=_maybe_moment(data.get("failing_since")),
        created_at=_moment(data["created_at"]),
        updated_at=_moment(data["updated_at"]),
        version=data.get("version", 0),
    )


class MongoEndpointStore:
    def __init__(self, collection: Collection) -> None:
        self._collection = collection

    async def add(self, endpoint: WebhookEndpoint, cap: int | None = None) -> None:
        if cap is None:
            await self._collection.insert_one(_endpoint_document(endpoint))
            return

        async def insert(slot: int) -> None:
            await self._collection.insert_one({**_endpoint_document(endpoint), SLOT_FIELD: slot})

        await insert_within_quota(self._collection, {"owner_id": endpoint.owner_id}, cap, insert)

    async def get(self, endpoint_id: str, owner_id: str | None = None) -> WebhookEndpoint | None:
        query: dict[str, Any] = {"_id": endpoint_id}
        if owner_id is not None:
            query["owner_id"] = owner_id
        data = await self._collection.find_one(query)
        return _endpoint(data) if data else None

    async def page(
        self, owner_id: str, limit: int, after: PagePosition | None
    ) -> list[WebhookEndpoint]:
        clauses = [{"owner_id": owner_id}, *_older_than(after)]
        found = self._collection.find({"$and": clauses}).sort([("position", DESCENDING)])
        return [_endpoint(d) async for d in found.limit(limit + 1)]

    async def compare_and_set(self, endpoint: WebhookEndpoint, expected_version: int) -> bool:
        fields = _endpoint_document(endpoint)
        fields.pop("_id")
        result = await self._collection.update_one(
            {"_id": endpoint.id, "version": expected_version}, {"$set": fields}
        )
        return result.modified_count == 1

    async def delete(self, endpoint_id: str, owner_id: str) -> bool:
        result = await self._collection.delete_one({"_id": endpoint_id, "owner_id": owner_id})
        return result.deleted_count == 1

    async def subscribed(self, owner_ids: Sequence[str], event_type: str) -> list[WebhookEndpoint]:
        found = self._collection.find(
            {"owner_id": {"$in": list(owner_ids)}, "status": EndpointStatus.ENABLED.value}
        )
        endpoints = [_endpoint(d) async for d in found]
        return [e for e in endpoints if e.wants(event_type)]

    async def mark_failing(self, endpoint_id: str, since: datetime) -> bool:
        result = await self._collection.update_one(
            {"_id": endpoint_id, "failing_since": None},
            {"$set": {"failing_since": since}, "$inc": {"version": 1}},
        )
        return result.modified_count == 1

    async def clear_failing(self, endpoint_id: str, since: datetime) -> bool:
        result = await self._collection.update_one(
            {"_id": endpoint_id, "failing_since": since},
            {"$set": {"failing_since": None}, "$inc": {"version": 1}},
        )
        return result.modified_count == 1

    async def disable(self, endpoint_id: str, reason: DisabledReason, now: datetime) -> bool:
        result = await self._collection.update_one(
            {"_id": endpoint_id, "status": EndpointStatus.ENABLED.value},
            {
                "$set": {
                    "status": EndpointStatus.DISABLED.value,
                    "disabled_reason": reason.value,
                    "updated_at": now,
                },
                "$inc": {"version": 1},
            },
        )
        return result.modified_count == 1


# ---------------------------------------------------------------- events


def _event_document(event: WebhookEvent) -> dict[str, Any]:
    """An event as `webhook_events` stores it (same fields, same order)."""
    return {
        "_id": event.id,
        "type": event.type,
        "transfer_id": event.transfer_id,
        "owner_ids": list(event.owner_ids),
        "data": event.data,
        "created_at": event.created_at,
        "position": event.position.key,
    }


def _event(data: Mapping[str, Any]) -> WebhookEvent:
    return WebhookEvent(
        id=data["_id"],
        type=data["type"],
        transfer_id=data["transfer_id"],
        owner_ids=tuple(data["owner_ids"]),
        data=dict(data["data"]),
        created_at=_moment(data["created_at"]),
    )


class MongoEventStore:
    def __init__(self, collection: Collection) -> None:
        self._collection = collection

    async def add(self, event: WebhookEvent) -> WebhookEvent:
        document = _event_document(event)
        stored = await insert_first(self._collection, document)
        return event if stored is document else _event(stored)

    async def get(self, event_id: str, owner_id: str | None = None) -> WebhookEvent | None:
        query: dict[str, Any] = {"_id": event_id}
        if owner_id is not None:
            query["owner_ids"] = owner_id
        data = await self._collection.find_one(query)
        return _event(data) if data else None

    async def page(
        self, owner_id: str, event_type: str | None, limit: int, after: PagePosition | None
    ) -> list[WebhookEvent]:
        clauses: list[dict[str, Any]] = [{"owner_ids": owner_id}]
        if event_type:
            clauses.append({"type": event_type})
        clauses += _older_than(after)
        found = self._collection.find({"$and": clauses}).sort([("position", DESCENDING)])
        return [_event(d) async for d in found.limit(limit + 1)]


# ---------------------------------------------------------------- deliveries and attempts


def _delivery_document(delivery: Delivery) -> dict[str, Any]:
    """A delivery as `webhook_deliveries` stores it (same fields, same order)."""
    due = delivery.next_attempt_at if delivery.is_pending else None
    return {
        "_id": delivery.id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "endpoint_id": delivery.endpoint_id,
        "owner_id": delivery.owner_id,
        "status": delivery.status.value,
        "attempt_count": delivery.attempt_count,
        "round_failures": delivery.round_failures,
        "next_attempt_at": delivery.next_attempt_at,
        "last_error": delivery.last_error,
        "event_created_at": delivery.event_created_at,
        "traceparent": delivery.traceparent,
        "created_at": delivery.created_at,
        "updated_at": delivery.updated_at,
        "succeeded_at": delivery.succeeded_at,
        "version": delivery.version,
        "body": delivery.body,
        "position": delivery.position.key,
        "due_at_ms": _ms(due) if due is not None else None,
    }


def _delivery(data: Mapping[str, Any]) -> Delivery:
    return Delivery(
        id=data["_id"],
        event_id=data["event_id"],
        event_type=data["event_type"],
        endpoint_id=data["endpoint_id"],
        owner_id=data["owner_id"],
        status=DeliveryStatus(data.get("status", DeliveryStatus.PENDING)),
        attempt_count=data.get("attempt_count", 0),
        round_failures=data.get("round_failures", 0),
        next_attempt_at=_maybe_moment(data["next_attempt_at"]),
        last_error=data.get("last_error"),
        event_created_at=_moment(data["event_created_at"]),
        traceparent=data.get("traceparent"),
        created_at=_moment(data["created_at"]),
        updated_at=_moment(data["updated_at"]),
        succeeded_at=_maybe_moment(data.get("succeeded_at")),
        version=data.get("version", 0),
        body=data.get("body"),
    )


def _attempt_entry(attempt: Attempt) -> dict[str, Any]:
    """An attempt as its delivery's `attempts` array holds it (the delivery id is the
    document's own)."""
    return {
        "_id": attempt.id,
        "number": attempt.number,
        "at": attempt.at,
        "status_code": attempt.status_code,
        "duration_ms": attempt.duration_ms,
        "error": attempt.error,
        "response_body": attempt.response_body,
    }


def _attempt(data: Mapping[str, Any], delivery_id: str) -> Attempt:
    return Attempt(
        id=data["_id"],
        delivery_id=delivery_id,
        number=data["number"],
        at=_moment(data["at"]),
        status_code=data["status_code"],
        duration_ms=data["duration_ms"],
        error=data["error"],
        response_body=data.get("response_body"),
    )


class MongoDeliveryStore:
    def __init__(self, deliveries: Collection, attempts: Collection) -> None:
        self._deliveries = deliveries
        self._attempts = attempts

    async def add(self, delivery: Delivery) -> Delivery:
        document = _delivery_document(delivery)
        stored = await insert_first(
            self._deliveries,
            document,
            key={"event_id": delivery.event_id, "endpoint_id": delivery.endpoint_id},
        )
        return delivery if stored is document else _delivery(stored)

    async def add_all(self, deliveries: Sequence[Delivery]) -> list[Delivery]:
        if len(deliveries) < 2:
            return [await self.add(d) for d in deliveries]
        try:
            await self._deliveries.insert_many(
                [_delivery_document(d) for d in deliveries], ordered=False
            )
        except BulkWriteError as failed:
            errors = failed.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            # The (event, endpoint) pairs opened before (a redelivered event): their deliveries.
            lost = [deliveries[e["index"]] for e in errors]
            existing = {
                (d.event_id, d.endpoint_id): d
                for d in [await self.add(delivery) for delivery in lost]
            }
            return [existing.get((d.event_id, d.endpoint_id), d) for d in deliveries]
        return list(deliveries)

    async def get(self, delivery_id: str, owner_id: str | None = None) -> Delivery | None:
        query: dict[str, Any] = {"_id": delivery_id}
        if owner_id is not None:
            query["owner_id"] = owner_id
        data = await self._deliveries.find_one(query)
        return _delivery(data) if data else None

    async def compare_and_set(
        self, delivery: Delivery, expected_version: int, attempt: Attempt | None = None
    ) -> bool:
        fields = _delivery_document(delivery)
        fields.pop("_id")
        fields.pop("body")  # fixed at opening: never rewritten
        change: dict[str, Any] = {"$set": fields}
        if attempt is not None:
            change["$push"] = {"attempts": _attempt_entry(attempt)}
        result = await self._deliveries.update_one(
            {"_id": delivery.id, "version": expected_version}, change
        )
        return result.modified_count == 1

    async def page(
        self,
        endpoint_id: str,
        status: DeliveryStatus | None,
        limit: int,
        after: PagePosition | None,
    ) -> list[Delivery]:
        clauses: list[dict[str, Any]] = [{"endpoint_id": endpoint_id}]
        if status is not None:
            clauses.append({"status": status.value})
        clauses += _older_than(after)
        found = self._deliveries.find({"$and": clauses}).sort([("position", DESCENDING)])
        return [_delivery(d) async for d in found.limit(limit + 1)]

    async def overdue(self, due_before: datetime, limit: int) -> list[Delivery]:
        found = (
            self._deliveries.find({"due_at_ms": {"$lte": _ms(due_before)}})
            .sort([("due_at_ms", ASCENDING)])
            .limit(limit)
        )
        return [_delivery(d) async for d in found]

    async def record_attempt(self, attempt: Attempt) -> None:
        await self._deliveries.update_one(
            {"_id": attempt.delivery_id}, {"$push": {"attempts": _attempt_entry(attempt)}}
        )

    async def attempts_of(self, delivery_ids: Sequence[str]) -> dict[str, list[Attempt]]:
        grouped: dict[str, list[Attempt]] = {i: [] for i in delivery_ids}
        if not delivery_ids:
            return grouped
        ids = list(delivery_ids)
        async for data in self._deliveries.find({"_id": {"$in": ids}}, {"attempts": 1}):
            grouped[data["_id"]] += [_attempt(a, data["_id"]) for a in data.get("attempts", [])]
        # Attempts made before they moved into their delivery's document.
        async for data in self._attempts.find({"delivery_id": {"$in": ids}}):
            grouped[data["delivery_id"]].append(_attempt(data, data["delivery_id"]))
        for attempts in grouped.values():
            attempts.sort(key=lambda a: (a.at, a.number))
        return grouped
