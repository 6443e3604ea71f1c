"""The MongoDB adapters of the orchestrator's ports (`ports.py`).

Beanie `Document` classes declare the collections (fields and indexes, created by `init_beanie`);
the adapters read and write through their pymongo collections with explicit filters and update
operators, and convert to domain objects by hand. Every write is one atomic single-document
operation: an insert guarded by a unique index, or a guarded update (a compare-and-set on the
saga's `version`, a reservation's slot and counters).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from beanie import Document
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from payflow_contracts.paging import PagePosition, cut_page, position_of
from payflow_orchestrator.domain.faults import FaultRule
from payflow_orchestrator.domain.payment_links import PaymentLink
from payflow_orchestrator.domain.reservations import Reservation, Settlement
from payflow_orchestrator.domain.saga_machine import FailureCode, SagaKind, SagaState, is_terminal
from payflow_orchestrator.domain.transfer import (
    REFUND_FIELDS,
    EventKey,
    HistoryEntry,
    StepFault,
    Transfer,
)
from payflow_orchestrator.ports import DuplicateLink, DuplicateTransfer, TransferQuery
from payflow_service.mongo import insert_first
from payflow_service.quotas import SLOT_FIELD, insert_within_quota, quota_slot_index

Collection = AsyncCollection[dict[str, Any]]

ACTIVE_STATES = [s.value for s in SagaState if not is_terminal(s)]
NEVER_DUE = None


# ---------------------------------------------------------------- transfer sagas


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


RETIRED_INDEXES = ("one_refund_per_transfer",)
"""Indexes of earlier versions to drop at start: one refund per transfer gave way to partial
refunds reserved on the original (docs/phases/PHASE-9-MERCHANT-PAYMENTS.md)."""


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# Documents <-> domain objects, by hand. A document keeps its fields in the order (and with the
# types) they have always been stored in: the domain fields, `_id`, then the derived fields. A
# document is encoded at once and never kept, so it may share the domain object's containers.
# Reading builds fresh ones, enums from their values, datetimes timezone-aware (UTC), and gives
# the fields older documents lack their defaults.


_KINDS = {kind.value: kind for kind in SagaKind}
_STATES = {state.value: state for state in SagaState}
_FAILURE_CODES = {code.value: code for code in FailureCode}
"""Enum members by stored value (a dict lookup: reading a saga's history is on the read path)."""


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _aware_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else _aware(moment)


def _reservation_document(reservation: Reservation) -> dict[str, Any]:
    return {
        "saga_id": reservation.saga_id,
        "amount": reservation.amount,
        "reserved_at_ms": reservation.reserved_at_ms,
        "request": reservation.request,
    }


def _reservation_of(data: Mapping[str, Any]) -> Reservation:
    return Reservation(
        saga_id=data["saga_id"],
        amount=data["amount"],
        reserved_at_ms=data["reserved_at_ms"],
        request=dict(data["request"]),
    )


def _reservations_document(reservations: Mapping[str, Reservation]) -> dict[str, Any]:
    return {slot: _reservation_document(r) for slot, r in reservations.items()}


def _reservations_of(data: Mapping[str, Any] | None) -> dict[str, Reservation]:
    return {slot: _reservation_of(r) for slot, r in (data or {}).items()}


def _transfer_position(transfer: Transfer) -> PagePosition:
    return PagePosition(transfer.created_at, transfer.id)


def _transfer_document(transfer: Transfer) -> dict[str, Any]:
    active = not transfer.is_terminal and transfer.step_deadline is not None
    return {
        "kind": transfer.kind,
        "initiator_id": transfer.initiator_id,
        "idempotency_key": transfer.idempotency_key,
        "source_wallet_id": transfer.source_wallet_id,
        "destination_wallet_id": transfer.destination_wallet_id,
        "amount": transfer.amount,
        "currency": transfer.currency,
        "description": transfer.description,
        "metadata": transfer.metadata,
        "owner_ids": transfer.owner_ids,
        "refund_of": transfer.refund_of,
        "fee": transfer.fee,
        "payment_link_id": transfer.payment_link_id,
        "request_fingerprint": transfer.request_fingerprint,
        "state": transfer.state,
        "version": transfer.version,
        "failure_code": transfer.failure_code,
        "failure_message": transfer.failure_message,
        "step_sends": transfer.step_sends,
        "step_started_at": transfer.step_started_at,
        "step_deadline": transfer.step_deadline,
        "compensation_sends": transfer.compensation_sends,
        "history": [{"state": h.state, "at": h.at, "reason": h.reason} for h in transfer.history],
        "created_at": transfer.created_at,
        "updated_at": transfer.updated_at,
        "completed_at": transfer.completed_at,
        "traceparent": transfer.traceparent,
        "faults": {
            step: {"rule_id": fault.rule_id, "mode": fault.mode}
            for step, fault in transfer.faults.items()
        },
        "events": transfer.events,
        "refund_reserved": transfer.refund_reserved,
        "refunded_amount": transfer.refunded_amount,
        "refund_ids": transfer.refund_ids,
        "reservations": _reservations_document(transfer.reservations),
        "reservations_open": transfer.reservations_open,
        "_id": transfer.id,
        "position": position_of(transfer.created_at, transfer.id),
        "due_at_ms": millis(transfer.step_deadline) if active and transfer.step_deadline else None,
        "owes_events_since_ms": millis(transfer.updated_at) if transfer.pending_events() else None,
    }


def _transfer_of(data: Mapping[str, Any]) -> Transfer:
    failure_code = data.get("failure_code")
    return Transfer(
        id=data["_id"],
        kind=_KINDS[data["kind"]],
        initiator_id=data["initiator_id"],
        idempotency_key=data["idempotency_key"],
        source_wallet_id=data["source_wallet_id"],
        destination_wallet_id=data["destination_wallet_id"],
        amount=data["amount"],
        currency=data["currency"],
        description=data.get("description"),
        metadata=dict(data.get("metadata", {})),
        owner_ids=list(data["owner_ids"]),
        refund_of=data.get("refund_of"),
        fee=data.get("fee", 0),
        payment_link_id=data.get("payment_link_id"),
        request_fingerprint=data.get("request_fingerprint", ""),
        state=_STATES[data["state"]],
        version=data.get("version", 0),
        failure_code=None if failure_code is None else _FAILURE_CODES[failure_code],
        failure_message=data.get("failure_message"),
        step_sends=data.get("step_sends", 1),
        step_started_at=_aware_or_none(data.get("step_started_at")),
        step_deadline=_aware_or_none(data.get("step_deadline")),
        compensation_sends=data.get("compensation_sends", 0),
        history=[
            HistoryEntry(_STATES[h["state"]], _aware(h["at"]), h["reason"]) for h in data["history"]
        ],
        created_at=_aware(data["created_at"]),
        updated_at=_aware(data["updated_at"]),
        completed_at=_aware_or_none(data.get("completed_at")),
        traceparent=data.get("traceparent"),
        faults={
            step: StepFault(rule_id=fault["rule_id"], mode=fault["mode"])
            for step, fault in data.get("faults", {}).items()
        },
        events=dict(data.get("events", {})),
        refund_reserved=data.get("refund_reserved", 0),
        refunded_amount=data.get("refunded_amount", 0),
        refund_ids=list(data.get("refund_ids", [])),
        reservations=_reservations_of(data.get("reservations", {})),
        reservations_open=data.get("reservations_open", 0),
    )


class MongoTransferRepository:
    def __init__(self, collection: Collection) -> None:
        self._collection = collection

    async def add(self, transfer: Transfer) -> None:
        document = _transfer_document(transfer)
        stored = await insert_first(
            self._collection,
            document,
            key={
                "initiator_id": transfer.initiator_id,
                "idempotency_key": transfer.idempotency_key,
            },
        )
        if stored is not document:
            raise DuplicateTransfer(_transfer_of(stored))

    async def get(self, transfer_id: str) -> Transfer | None:
        data = await self._collection.find_one({"_id": transfer_id})
        return _transfer_of(data) if data else None

    async def find_by_key(self, initiator_id: str, idempotency_key: str) -> Transfer | None:
        data = await self._collection.find_one(
            {"initiator_id": initiator_id, "idempotency_key": idempotency_key}
        )
        return _transfer_of(data) if data else None

    async def compare_and_set(
        self,
        transfer: Transfer,
        expected_version: int,
        added_events: Sequence[EventKey] = (),
        published_events: Sequence[EventKey] = (),
    ) -> bool:
        fields = _transfer_document(transfer)
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
        return [_transfer_of(d) async for d in cursor]

    async def with_pending_events(self, updated_before: datetime, limit: int) -> list[Transfer]:
        cursor = (
            self._collection.find({"owes_events_since_ms": {"$lte": millis(updated_before)}})
            .sort([("owes_events_since_ms", ASCENDING)])
            .limit(limit)
        )
        found = [_transfer_of(d) async for d in cursor]
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
        self, query: TransferQuery, limit: int, after: PagePosition | None
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
            clauses.append({"position": {"$gte": position_of(query.created_gte, "")}})
        if query.created_lte:
            # "~" sorts after every id character: the whole millisecond is included.
            clauses.append({"position": {"$lte": position_of(query.created_lte, "~")}})
        if after is not None:
            clauses.append({"position": {"$lt": after.key}})
        mongo_query: dict[str, Any] = {"$and": clauses} if clauses else {}
        found = self._collection.find(mongo_query).sort([("position", DESCENDING)])
        items = [_transfer_of(d) async for d in found.limit(limit + 1)]
        return cut_page(items, limit, _transfer_position)

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
            fields = _transfer_document(_transfer_of(data))
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


# ---------------------------------------------------------------- reservations


class MongoReservations:
    """Settling and finding due reservations of one collection; the counters a settlement moves
    are the parent kind's (`consumed_inc`, `released_inc`). Parents with open reservations carry
    `reservations_due_ms`, indexed, so the keeper's query costs the work due, not the history."""

    def __init__(
        self,
        collection: Collection,
        consumed_inc: Callable[[int], dict[str, int]],
        released_inc: Callable[[int], dict[str, int]],
    ) -> None:
        self._collection = collection
        self._consumed_inc = consumed_inc
        self._released_inc = released_inc

    async def settle(
        self, parent_id: str, slot: str, saga_id: str, amount: int, settlement: Settlement
    ) -> bool:
        counters = (
            self._consumed_inc(amount)
            if settlement is Settlement.CONSUMED
            else self._released_inc(amount)
        )
        result = await self._collection.update_one(
            {"_id": parent_id, f"reservations.{slot}.saga_id": saga_id},
            {
                "$unset": {f"reservations.{slot}": ""},
                "$inc": {**counters, "reservations_open": -1},
            },
        )
        settled = bool(result.modified_count == 1)
        if settled:
            await self._forget_if_idle(parent_id)
        return settled

    async def _forget_if_idle(self, parent_id: str) -> bool:
        result = await self._collection.update_one(
            {"_id": parent_id, "reservations_open": 0},
            {"$set": {"reservations_due_ms": NEVER_DUE}},
        )
        return bool(result.modified_count == 1)

    async def due(self, now_ms: int, limit: int) -> list[tuple[str, dict[str, Reservation]]]:
        cursor = (
            self._collection.find(
                {"reservations_due_ms": {"$lte": now_ms}},
                projection={"reservations": 1},
            )
            .sort([("reservations_due_ms", 1)])
            .limit(limit)
        )
        return [
            (
                str(doc["_id"]),
                _reservations_of(doc.get("reservations")),
            )
            async for doc in cursor
        ]

    async def postpone(self, parent_id: str, until_ms: int) -> None:
        if await self._forget_if_idle(parent_id):
            return
        await self._collection.update_one(
            {"_id": parent_id, "reservations_open": {"$gt": 0}},
            {"$set": {"reservations_due_ms": until_ms}},
        )


# ---------------------------------------------------------------- refunds


def _refund_consumed(amount: int) -> dict[str, int]:
    return {"refunded_amount": amount}


def _refund_released(amount: int) -> dict[str, int]:
    return {"refund_reserved": -amount}


class MongoRefundBook(MongoReservations):
    """The refunds of a transfer, on the `transfers` collection (the `RefundBook` port)."""

    def __init__(self, collection: Collection) -> None:
        super().__init__(collection, _refund_consumed, _refund_released)
        self._collection = collection

    async def reserve(
        self, original: Transfer, slot: str, reservation: Reservation, due_ms: int
    ) -> bool:
        for _ in range(2):
            result = await self._collection.update_one(
                {
                    "_id": original.id,
                    "kind": SagaKind.TRANSFER.value,
                    "state": SagaState.COMPLETED.value,
                    "refund_reserved": {"$lte": original.amount - reservation.amount},
                    f"reservations.{slot}": {"$exists": False},
                },
                {
                    "$set": {
                        f"reservations.{slot}": _reservation_document(reservation),
                        "reservations_due_ms": due_ms,
                    },
                    "$inc": {"refund_reserved": reservation.amount, "reservations_open": 1},
                    "$push": {"refund_ids": reservation.saga_id},
                },
            )
            if result.modified_count == 1:
                return True
            if not await self._adopt_legacy(original.id):
                return False
        return False

    async def _adopt_legacy(self, transfer_id: str) -> bool:
        """A transfer stored before partial refunds has no refund fields: give it its earlier
        refund (at most one then), so that the guard counts it. Completed or in-flight refunds
        count as spent: an old refund in flight has no reservation to give back."""
        stored = await self._collection.find_one(
            {"_id": transfer_id, "refund_reserved": {"$exists": False}}, {"_id": 1}
        )
        if stored is None:
            return False
        earlier = [
            doc
            async for doc in self._collection.find(
                {"refund_of": transfer_id, "state": {"$ne": SagaState.FAILED.value}},
                {"_id": 1, "amount": 1, "state": 1, "created_at": 1},
            )
            if doc["state"] != SagaState.COMPENSATED.value
        ]
        spent = sum(int(doc["amount"]) for doc in earlier)
        result = await self._collection.update_one(
            {"_id": transfer_id, "refund_reserved": {"$exists": False}},
            {
                "$set": {
                    "refund_reserved": spent,
                    "refunded_amount": spent,
                    "refund_ids": [doc["_id"] for doc in earlier],
                    "reservations": {},
                    "reservations_open": 0,
                }
            },
        )
        return bool(result.modified_count == 1)


# ---------------------------------------------------------------- payment links


def _link_position(link: PaymentLink) -> PagePosition:
    return PagePosition(link.created_at, link.id)


def _link_consumed(amount: int) -> dict[str, int]:
    return {"paid_count": 1, "paid_amount": amount}


def _link_released(amount: int) -> dict[str, int]:
    return {}


class PaymentLinkDocument(Document):
    """Storage schema and indexes of the `payment_links` collection (written through raw
    operations, each one guarded single-document write)."""

    class Settings:
        name = "payment_links"
        indexes = [
            IndexModel(
                [("owner_id", ASCENDING), ("idempotency_key", ASCENDING)],
                unique=True,
                name="one_link_per_idempotency_key",
            ),
            IndexModel([("owner_id", ASCENDING), ("position", DESCENDING)], name="by_owner"),
            IndexModel([("reservations_due_ms", ASCENDING)], name="by_reservations_due"),
        ]


def _link_document(link: PaymentLink) -> dict[str, Any]:
    return {
        "owner_id": link.owner_id,
        "idempotency_key": link.idempotency_key,
        "request_fingerprint": link.request_fingerprint,
        "wallet_id": link.wallet_id,
        "currency": link.currency,
        "amount": link.amount,
        "min_amount": link.min_amount,
        "max_amount": link.max_amount,
        "description": link.description,
        "metadata": link.metadata,
        "single_use": link.single_use,
        "merchant_name": link.merchant_name,
        "expires_at": link.expires_at,
        "active": link.active,
        "created_at": link.created_at,
        "deactivated_at": link.deactivated_at,
        "paid_count": link.paid_count,
        "paid_amount": link.paid_amount,
        "reservations": _reservations_document(link.reservations),
        "reservations_open": link.reservations_open,
        "_id": link.id,
        "position": position_of(link.created_at, link.id),
        "expires_at_ms": link.expires_at_ms,
        "reservations_due_ms": None,
    }


def _link_of(data: Mapping[str, Any]) -> PaymentLink:
    return PaymentLink(
        id=data["_id"],
        owner_id=data["owner_id"],
        idempotency_key=data["idempotency_key"],
        request_fingerprint=data["request_fingerprint"],
        wallet_id=data["wallet_id"],
        currency=data["currency"],
        amount=data.get("amount"),
        min_amount=data.get("min_amount"),
        max_amount=data.get("max_amount"),
        description=data.get("description"),
        metadata=dict(data.get("metadata", {})),
        single_use=data.get("single_use", False),
        merchant_name=data["merchant_name"],
        expires_at=_aware_or_none(data.get("expires_at")),
        active=data.get("active", True),
        created_at=_aware(data["created_at"]),
        deactivated_at=_aware_or_none(data.get("deactivated_at")),
        paid_count=data.get("paid_count", 0),
        paid_amount=data.get("paid_amount", 0),
        reservations=_reservations_of(data.get("reservations", {})),
        reservations_open=data.get("reservations_open", 0),
    )


class MongoPaymentLinkStore(MongoReservations):
    def __init__(self, collection: Collection) -> None:
        super().__init__(collection, _link_consumed, _link_released)
        self._collection = collection

    async def add(self, link: PaymentLink) -> None:
        document = _link_document(link)
        stored = await insert_first(
            self._collection,
            document,
            key={"owner_id": link.owner_id, "idempotency_key": link.idempotency_key},
        )
        if stored is not document:
            raise DuplicateLink(_link_of(stored))

    async def get(self, link_id: str) -> PaymentLink | None:
        data = await self._collection.find_one({"_id": link_id})
        return _link_of(data) if data else None

    async def page(
        self, owner_id: str, limit: int, after: PagePosition | None
    ) -> tuple[list[PaymentLink], str | None]:
        query: dict[str, Any] = {"owner_id": owner_id}
        if after is not None:
            query["position"] = {"$lt": after.key}
        found = self._collection.find(query).sort([("position", DESCENDING)]).limit(limit + 1)
        items = [_link_of(d) async for d in found]
        return cut_page(items, limit, _link_position)

    async def deactivate(self, link_id: str, owner_id: str, at: datetime) -> PaymentLink | None:
        await self._collection.update_one(
            {"_id": link_id, "owner_id": owner_id, "active": True},
            {"$set": {"active": False, "deactivated_at": at}},
        )
        link = await self.get(link_id)
        return link if link is not None and link.owner_id == owner_id else None

    async def reserve(
        self, link: PaymentLink, slot: str, reservation: Reservation, now_ms: int, due_ms: int
    ) -> bool:
        guard: dict[str, Any] = {
            "_id": link.id,
            "active": True,
            "expires_at_ms": {"$gt": now_ms},
            f"reservations.{slot}": {"$exists": False},
        }
        if link.single_use:
            guard.update(reservations_open=0, paid_count=0)
        result = await self._collection.update_one(
            guard,
            {
                "$set": {
                    f"reservations.{slot}": _reservation_document(reservation),
                    "reservations_due_ms": due_ms,
                },
                "$inc": {"reservations_open": 1},
            },
        )
        return bool(result.modified_count == 1)


# ---------------------------------------------------------------- sandbox fault rules


class FaultRuleDocument(Document):
    class Settings:
        name = "fault_rules"
        indexes = [
            IndexModel([("owner_id", ASCENDING)], name="by_owner"),
            quota_slot_index("owner_id"),
        ]


def _rule_document(rule: FaultRule) -> dict[str, Any]:
    return {
        "owner_id": rule.owner_id,
        "step": rule.step,
        "mode": rule.mode,
        "rate": rule.rate,
        "match_metadata": rule.match_metadata,
        "_id": rule.id,
    }


def _rule_of(data: Mapping[str, Any]) -> FaultRule:
    return FaultRule(
        id=data["_id"],
        owner_id=data["owner_id"],
        step=data["step"],
        mode=data["mode"],
        rate=float(data.get("rate", 1.0)),
        match_metadata=dict(data.get("match_metadata", {})),
    )


class MongoFaultRuleStore:
    def __init__(self, collection: Collection) -> None:
        self._collection = collection

    async def add(self, rule: FaultRule, cap: int | None = None) -> None:
        data = _rule_document(rule)
        if cap is None:
            await self._collection.insert_one(data)
            return

        async def insert(slot: int) -> None:
            await self._collection.insert_one({**data, SLOT_FIELD: slot})

        await insert_within_quota(self._collection, {"owner_id": rule.owner_id}, cap, insert)

    async def for_owner(self, owner_id: str) -> list[FaultRule]:
        found = self._collection.find({"owner_id": owner_id}, {SLOT_FIELD: 0}).sort(
            [("_id", ASCENDING)]
        )
        return [_rule_of(d) async for d in found]

    async def remove(self, owner_id: str, rule_id: str) -> bool:
        result = await self._collection.delete_one({"_id": rule_id, "owner_id": owner_id})
        return bool(result.deleted_count == 1)


DOCUMENT_MODELS: Sequence[type[Document]] = (
    TransferDocument,
    FaultRuleDocument,
    PaymentLinkDocument,
)
"""The collections the adapters above write (`init_beanie` creates their indexes)."""
