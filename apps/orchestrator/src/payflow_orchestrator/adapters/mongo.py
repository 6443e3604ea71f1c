"""Where transfer sagas live: a protocol, its MongoDB adapter and an in-memory twin.

Every write is one atomic single-document operation: an insert guarded by the unique
(initiator, idempotency key) index, or a compare-and-set on `version`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from beanie import Document
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from payflow_contracts import paging
from payflow_contracts.paging import PagePosition
from payflow_orchestrator.domain.saga_machine import SagaState, is_terminal
from payflow_orchestrator.domain.transfer import EventKey, Transfer

ACTIVE_STATES = [s.value for s in SagaState if not is_terminal(s)]


class DuplicateTransfer(Exception):
    """A transfer with this (initiator, idempotency key) exists already."""

    def __init__(self, existing: Transfer) -> None:
        super().__init__(existing.id)
        self.existing = existing


@dataclass(frozen=True)
class TransferQuery:
    owner_id: str | None = None
    states: Sequence[str] | None = None
    wallet_id: str | None = None
    created_gte: datetime | None = None
    created_lte: datetime | None = None
    payment_link_id: str | None = None


class TransferRepository(Protocol):
    async def add(self, transfer: Transfer) -> None: ...
    async def get(self, transfer_id: str) -> Transfer | None: ...
    async def find_by_key(self, initiator_id: str, idempotency_key: str) -> Transfer | None: ...
    async def compare_and_set(
        self,
        transfer: Transfer,
        expected_version: int,
        added_events: Sequence[EventKey] = (),
        published_events: Sequence[EventKey] = (),
    ) -> bool:
        """Write `transfer` if the stored version is `expected_version`. Of the event flags,
        only `added_events` (as the transfer has them) and `published_events` (marked
        published, folded into this write) are set; the others are left as stored."""
        ...

    async def mark_event_published(self, transfer_id: str, key: EventKey) -> None: ...
    async def mark_events_published(self, flags: Sequence[tuple[str, EventKey]]) -> None:
        """The same for many sagas at once: one write per event kind."""
        ...

    async def due(self, now: datetime, limit: int) -> list[Transfer]: ...
    async def with_pending_events(self, updated_before: datetime, limit: int) -> list[Transfer]: ...
    async def page(
        self, query: TransferQuery, limit: int, cursor: str | None
    ) -> tuple[list[Transfer], str | None]: ...
    async def count_active(self) -> int: ...
    async def count_past_deadline(self, before: datetime) -> int: ...


def list_position(created_at: datetime, transfer_id: str = "") -> str:
    """The transfer's exact list position (see `payflow_contracts.paging`)."""
    return PagePosition(created_at, transfer_id).key


def encode_cursor(transfer: Transfer) -> str:
    return paging.encode_cursor(PagePosition(transfer.created_at, transfer.id))


def decode_cursor(cursor: str) -> str:
    return paging.decode_cursor(cursor).key


# ---------------------------------------------------------------- MongoDB


class TransferDocument(Document):
    """Storage schema and indexes of the `transfers` collection (written through raw operations
    so that every write is exactly one guarded single-document update).

    Background work reads only two integer fields, set while there is work and null after, so
    its queries are bounded by the work due, never by the history: `due_at_ms` (the step
    deadline of an active saga) and `owes_events_since_ms` (when a saga last had an event flag
    still pending; cleared once no flag is)."""

    class Settings:
        name = "transfers"
        indexes = [
            IndexModel(
                [("initiator_id", ASCENDING), ("idempotency_key", ASCENDING)],
                unique=True,
                name="one_transfer_per_idempotency_key",
            ),
            IndexModel([("owner_ids", ASCENDING), ("position", DESCENDING)], name="by_owner"),
            IndexModel([("due_at_ms", ASCENDING)], name="by_due_at"),
            IndexModel([("owes_events_since_ms", ASCENDING)], name="by_owed_events"),
            IndexModel([("position", DESCENDING)], name="by_position"),
            IndexModel([("reservations_due_ms", ASCENDING)], name="by_reservations_due"),
            IndexModel(
                [("payment_link_id", ASCENDING), ("position", DESCENDING)],
                partialFilterExpression={"payment_link_id": {"$type": "string"}},
                name="by_payment_link",
            ),
        ]


# Fields of a transfer that only the refund book writes (`refund_book.py`): the saga's own
# compare-and-set leaves them as stored, so a refund reserved meanwhile is never overwritten.
REFUND_FIELDS = (
    "refund_reserved",
    "refunded_amount",
    "refund_ids",
    "reservations",
    "reservations_open",
)
RETIRED_INDEXES = ("one_refund_per_transfer",)
"""Indexes of earlier versions to drop at start: one refund per transfer gave way to partial
refunds reserved on the original (docs/phases/PHASE-9-MERCHANT-PAYMENTS.md)."""


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _to_document(transfer: Transfer) -> dict[str, Any]:
    data = transfer.model_dump(mode="python")
    data["_id"] = data.pop("id")
    data["position"] = list_position(transfer.created_at, transfer.id)
    active = not transfer.is_terminal and transfer.step_deadline is not None
    data["due_at_ms"] = (
        millis(transfer.step_deadline) if active and transfer.step_deadline else None
    )
    data["owes_events_since_ms"] = (
        millis(transfer.updated_at) if transfer.pending_events() else None
    )
    return data


def _from_document(data: dict[str, Any]) -> Transfer:
    data = dict(data)
    data["id"] = data.pop("_id")
    for derived in ("position", "due_at_ms", "owes_events_since_ms", "reservations_due_ms"):
        data.pop(derived, None)
    return Transfer.model_validate(data)


class MongoTransferRepository:
    def __init__(self, collection: Any) -> None:
        self._collection = collection

    async def add(self, transfer: Transfer) -> None:
        try:
            await self._collection.insert_one(_to_document(transfer))
        except DuplicateKeyError:
            existing = await self.find_by_key(transfer.initiator_id, transfer.idempotency_key)
            if existing is None:  # the id collided, not the key: astronomically unlikely
                raise
            raise DuplicateTransfer(existing) from None

    async def get(self, transfer_id: str) -> Transfer | None:
        data = await self._collection.find_one({"_id": transfer_id})
        return _from_document(data) if data else None

    async def find_by_key(self, initiator_id: str, idempotency_key: str) -> Transfer | None:
        data = await self._collection.find_one(
            {"initiator_id": initiator_id, "idempotency_key": idempotency_key}
        )
        return _from_document(data) if data else None

    async def compare_and_set(
        self,
        transfer: Transfer,
        expected_version: int,
        added_events: Sequence[EventKey] = (),
        published_events: Sequence[EventKey] = (),
    ) -> bool:
        fields = _to_document(transfer)
        fields.pop("_id")
        for owned_elsewhere in REFUND_FIELDS:
            fields.pop(owned_elsewhere)
        events = fields.pop("events")
        # Event flags flip to "published" outside the version check, so a transition sets only
        # the flags it adds and never resets one published meanwhile.
        for key in added_events:
            fields[f"events.{key}"] = events[key]
        for key in published_events:
            fields[f"events.{key}"] = "published"
        if fields["owes_events_since_ms"] is None and not published_events and not added_events:
            # The flags are not all written here: leave the marker to the flag writers.
            fields.pop("owes_events_since_ms")
        result = await self._collection.update_one(
            {"_id": transfer.id, "version": expected_version}, {"$set": fields}
        )
        return bool(result.modified_count == 1)

    async def mark_event_published(self, transfer_id: str, key: EventKey) -> None:
        await self.mark_events_published([(transfer_id, key)])

    async def mark_events_published(self, flags: Sequence[tuple[str, EventKey]]) -> None:
        by_key: dict[str, list[str]] = {}
        for transfer_id, key in flags:
            by_key.setdefault(key, []).append(transfer_id)
        for event_key, ids in by_key.items():
            await self._collection.update_many(
                {"_id": {"$in": ids}}, {"$set": {f"events.{event_key}": "published"}}
            )
        # `owes_events_since_ms` stays: `with_pending_events` clears it once the saga, read
        # whole, owes nothing (this write cannot know about flags it does not set).

    async def due(self, now: datetime, limit: int) -> list[Transfer]:
        cursor = (
            self._collection.find({"due_at_ms": {"$lte": millis(now)}})
            .sort([("due_at_ms", ASCENDING)])
            .limit(limit)
        )
        return [_from_document(d) async for d in cursor]

    async def with_pending_events(self, updated_before: datetime, limit: int) -> list[Transfer]:
        cursor = (
            self._collection.find({"owes_events_since_ms": {"$lte": millis(updated_before)}})
            .sort([("owes_events_since_ms", ASCENDING)])
            .limit(limit)
        )
        found = [_from_document(d) async for d in cursor]
        settled = [t.id for t in found if not t.pending_events()]
        if settled:
            # Read whole, these owe nothing: clear their marker, unless a transition since the
            # read set it again (to its own, later time).
            await self._collection.update_many(
                {
                    "_id": {"$in": settled},
                    "owes_events_since_ms": {"$lte": millis(updated_before)},
                },
                {"$set": {"owes_events_since_ms": None}},
            )
        return [t for t in found if t.pending_events()]

    async def page(
        self, query: TransferQuery, limit: int, cursor: str | None
    ) -> tuple[list[Transfer], str | None]:
        clauses: list[dict[str, Any]] = []
        if query.owner_id:
            clauses.append({"owner_ids": query.owner_id})
        if query.states:
            clauses.append({"state": {"$in": list(query.states)}})
        if query.wallet_id:
            clauses.append(
                {
                    "$or": [
                        {"source_wallet_id": query.wallet_id},
                        {"destination_wallet_id": query.wallet_id},
                    ]
                }
            )
        if query.payment_link_id:
            clauses.append({"payment_link_id": query.payment_link_id})
        if query.created_gte:
            clauses.append({"position": {"$gte": list_position(query.created_gte)}})
        if query.created_lte:
            # "~" sorts after every id character: the whole millisecond is included.
            clauses.append({"position": {"$lte": list_position(query.created_lte, "~")}})
        if cursor:
            clauses.append({"position": {"$lt": decode_cursor(cursor)}})
        mongo_query: dict[str, Any] = {"$and": clauses} if clauses else {}
        found = self._collection.find(mongo_query).sort([("position", DESCENDING)])
        items = [_from_document(d) async for d in found.limit(limit + 1)]
        next_cursor = encode_cursor(items[limit - 1]) if len(items) > limit else None
        return items[:limit], next_cursor

    # Gauges count by the index, client side: a store's count_documents may scan the whole
    # collection, while the active sagas are bounded by the work in flight.
    async def count_active(self) -> int:
        return await self._count({"due_at_ms": {"$gte": 0}})

    async def count_past_deadline(self, before: datetime) -> int:
        return await self._count({"due_at_ms": {"$lt": millis(before)}})

    async def _count(self, query: dict[str, Any]) -> int:
        return len([d async for d in self._collection.find(query, projection={"_id": 1})])

    async def drop_retired_indexes(self) -> None:
        existing = {index["name"] async for index in await self._collection.list_indexes()}
        for name in RETIRED_INDEXES:
            if name in existing:
                await self._collection.drop_index(name)

    async def backfill_work_fields(self) -> int:
        """Give sagas stored before `due_at_ms` existed their work fields (once, at start)."""
        filled = 0
        async for data in self._collection.find(
            {"due_at_ms": {"$exists": False}, "state": {"$in": ACTIVE_STATES}}
        ):
            fields = _to_document(_from_document(data))
            await self._collection.update_one(
                {"_id": data["_id"], "version": data["version"]},
                {
                    "$set": {
                        "due_at_ms": fields["due_at_ms"],
                        "owes_events_since_ms": fields["owes_events_since_ms"],
                    }
                },
            )
            filled += 1
        return filled


# ---------------------------------------------------------------- in memory


class InMemoryTransferRepository:
    """The twin used by unit tests of the coordinator; passes the same contract tests."""

    def __init__(self) -> None:
        self._items: dict[str, Transfer] = {}

    @property
    def items(self) -> dict[str, Transfer]:
        """The stored sagas by id (the in-memory refund book writes its fields here)."""
        return self._items

    async def add(self, transfer: Transfer) -> None:
        existing = await self.find_by_key(transfer.initiator_id, transfer.idempotency_key)
        if existing is not None:
            raise DuplicateTransfer(existing)
        self._items[transfer.id] = transfer

    async def get(self, transfer_id: str) -> Transfer | None:
        return self._items.get(transfer_id)

    async def find_by_key(self, initiator_id: str, idempotency_key: str) -> Transfer | None:
        for item in self._items.values():
            if item.initiator_id == initiator_id and item.idempotency_key == idempotency_key:
                return item
        return None

    async def compare_and_set(
        self,
        transfer: Transfer,
        expected_version: int,
        added_events: Sequence[EventKey] = (),
        published_events: Sequence[EventKey] = (),
    ) -> bool:
        current = self._items.get(transfer.id)
        if current is None or current.version != expected_version:
            return False
        events = dict(current.events)
        for key in added_events:
            events[key] = transfer.events[key]
        for key in published_events:
            events[key] = "published"
        kept = {name: getattr(current, name) for name in REFUND_FIELDS}
        self._items[transfer.id] = transfer.model_copy(update={"events": events, **kept})
        return True

    async def mark_event_published(self, transfer_id: str, key: EventKey) -> None:
        current = self._items.get(transfer_id)
        if current is not None:
            events = {**copy.deepcopy(current.events), key: "published"}
            self._items[transfer_id] = current.model_copy(update={"events": events})

    async def mark_events_published(self, flags: Sequence[tuple[str, EventKey]]) -> None:
        for transfer_id, key in flags:
            await self.mark_event_published(transfer_id, key)

    async def due(self, now: datetime, limit: int) -> list[Transfer]:
        found = [
            t
            for t in self._items.values()
            if not t.is_terminal and t.step_deadline is not None and t.step_deadline <= now
        ]
        return sorted(found, key=lambda t: t.step_deadline or now)[:limit]

    async def with_pending_events(self, updated_before: datetime, limit: int) -> list[Transfer]:
        found = [
            t for t in self._items.values() if t.pending_events() and t.updated_at <= updated_before
        ]
        return found[:limit]

    async def page(
        self, query: TransferQuery, limit: int, cursor: str | None
    ) -> tuple[list[Transfer], str | None]:
        def matches(t: Transfer) -> bool:
            return (
                (not query.owner_id or query.owner_id in t.owner_ids)
                and (not query.states or t.state.value in query.states)
                and (
                    not query.wallet_id
                    or query.wallet_id in (t.source_wallet_id, t.destination_wallet_id)
                )
                and (not query.payment_link_id or t.payment_link_id == query.payment_link_id)
                and (
                    not query.created_gte
                    or list_position(t.created_at, t.id) >= list_position(query.created_gte)
                )
                and (
                    not query.created_lte
                    or list_position(t.created_at, t.id) <= list_position(query.created_lte, "~")
                )
            )

        def position(t: Transfer) -> str:
            return list_position(t.created_at, t.id)

        items = sorted((t for t in self._items.values() if matches(t)), key=position, reverse=True)
        if cursor:
            after = decode_cursor(cursor)
            items = [t for t in items if position(t) < after]
        next_cursor = encode_cursor(items[limit - 1]) if len(items) > limit else None
        return items[:limit], next_cursor

    async def count_active(self) -> int:
        return sum(1 for t in self._items.values() if not t.is_terminal)

    async def count_past_deadline(self, before: datetime) -> int:
        return sum(
            1
            for t in self._items.values()
            if not t.is_terminal and t.step_deadline is not None and t.step_deadline < before
        )
