"""MongoDB adapters of the wallet ports: Beanie documents declare the collections (fields and
indexes); the adapters read and write through their pymongo collections with explicit filters
and guarded single-document writes (no multi-document transactions, ever)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from payflow_contracts.clock import epoch_millis, from_epoch_millis
from payflow_contracts.paging import PagePosition
from payflow_contracts.saga import SagaStep, StepOutcome
from payflow_service.mongo import insert_all_first, insert_first
from payflow_service.quotas import insert_within_quota, quota_slot_index
from payflow_wallet.domain.errors import DuplicateWallet
from payflow_wallet.domain.operations import Guard, OperationKind, OperationRecord, WalletChange
from payflow_wallet.domain.wallet import Mark, Verdict, Wallet, WalletStatus

# Operation ids become keys of the `marks` map; a key may not contain "." or start with "$".
_KEY_ESCAPES = (("%", "%25"), (".", "%2E"), ("$", "%24"))


def mark_key(operation_id: str) -> str:
    for raw, escaped in _KEY_ESCAPES:
        operation_id = operation_id.replace(raw, escaped)
    return operation_id


def operation_of(key: str) -> str:
    for raw, escaped in reversed(_KEY_ESCAPES):
        key = key.replace(escaped, raw)
    return key


def mark_value(mark: Mark) -> str | dict[str, Any]:
    """A mark as stored: the verdict alone for a legacy mark, else the verdict with its record's
    facts under short keys (a wallet holds many marks); times as integer milliseconds, which
    every store compares and returns exactly."""
    if not mark.carries_record:
        return mark.verdict.value
    assert mark.kind is not None and mark.decided_at is not None
    return {
        "v": mark.verdict.value,
        "k": mark.kind.value,
        "a": mark.amount,
        "c": mark.currency,
        "i": mark.issued_ms,
        "t": epoch_millis(mark.decided_at),
    }


def mark_of_value(value: str | Mapping[str, Any]) -> Mark:
    if isinstance(value, str):
        return Mark(Verdict(value))
    return Mark(
        verdict=Verdict(value["v"]),
        kind=OperationKind(value["k"]),
        amount=value["a"],
        currency=value["c"],
        issued_ms=value.get("i"),
        decided_at=from_epoch_millis(value["t"]),
    )


class WalletDocument(Document):
    """The `wallets` collection. `marks` maps operation ids (escaped) to marks
    (`mark_value`)."""

    id: str  # type: ignore[assignment]  # "wal_..." ids, not ObjectIds
    owner_id: str
    currency: str
    balance: int
    status: WalletStatus
    version: int = 0
    marks: dict[str, str | dict[str, Any]] = Field(default_factory=dict)
    marks_epoch: int = 0
    pruned_through_ms: int | None = None
    """See `Wallet.pruned_through_ms`; absent (unknown) on wallets stored before it existed."""
    marks_count: int = 0
    """How many marks the wallet holds, so that the pruner finds them by an index."""
    created_at: datetime
    updated_at: datetime
    position: str
    """(created_at, id) as one exactly comparable string: the list order (see payflow_contracts.paging)."""
    quota_slot: int | None = None
    """Its place among its owner's wallets (payflow_service.quotas)."""

    class Settings:
        name = "wallets"
        indexes = [
            quota_slot_index("owner_id"),
            IndexModel([("owner_id", ASCENDING), ("position", ASCENDING)], name="by_owner"),
            IndexModel([("position", ASCENDING)], name="by_position"),
            IndexModel([("marks_count", ASCENDING)], name="by_marks_count"),
        ]


def _to_wallet(doc: Mapping[str, Any]) -> Wallet:
    return Wallet(
        id=doc["_id"],
        owner_id=doc["owner_id"],
        currency=doc["currency"],
        balance=doc["balance"],
        status=WalletStatus(doc["status"]),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        version=doc.get("version", 0),
        marks={operation_of(k): mark_of_value(v) for k, v in doc.get("marks", {}).items()},
        marks_epoch=doc.get("marks_epoch", 0),
        pruned_through_ms=doc.get("pruned_through_ms"),
    )


def _wallet_document(wallet: Wallet, slot: int | None) -> dict[str, Any]:
    """A new wallet as `WalletDocument` stores it (same fields, same order)."""
    return {
        "_id": wallet.id,
        "owner_id": wallet.owner_id,
        "currency": wallet.currency,
        "balance": wallet.balance,
        "status": wallet.status.value,
        "version": wallet.version,
        "marks": {},
        "marks_epoch": 0,
        "pruned_through_ms": wallet.pruned_through_ms,
        "marks_count": 0,
        "created_at": wallet.created_at,
        "updated_at": wallet.updated_at,
        "position": PagePosition(wallet.created_at, wallet.id).key,
        "quota_slot": slot,
    }


# `$currentDate`, not `$set`: the embedded store (nx-27017) stores a datetime given to `$set`
# as a naive string; the store's own clock is also the honest time of the write.
_TOUCH: dict[str, Any] = {"$currentDate": {"updated_at": True}}


def guard_filter(wallet_id: str, guard: Guard) -> dict[str, Any]:
    query: dict[str, Any] = {"_id": wallet_id}
    if guard.marks_epoch is not None:
        query["marks_epoch"] = guard.marks_epoch
    if guard.pruned_before is not None:
        # An absent or null value (unknown) matches no `$lt`: the guard fails, as it should.
        query["pruned_through_ms"] = {"$lt": guard.pruned_before}
    for op in guard.absent_marks:
        query[f"marks.{mark_key(op)}"] = {"$exists": False}
    if guard.statuses is not None:
        query["status"] = {"$in": sorted(s.value for s in guard.statuses)}
    balance: dict[str, int] = {}
    if guard.balance_at_least is not None:
        balance["$gte"] = guard.balance_at_least
    if guard.balance_below is not None:
        balance["$lt"] = guard.balance_below
    if balance:
        query["balance"] = balance
    return query


class MongoWalletRepository:
    def __init__(self) -> None:
        self._collection = WalletDocument.get_pymongo_collection()

    async def add(self, wallet: Wallet, cap: int | None = None) -> None:
        if wallet.marks:
            raise ValueError("a new wallet holds no marks")
        if cap is None:
            await self._insert(wallet, None)
            return

        async def insert(slot: int) -> None:
            await self._insert(wallet, slot)

        await insert_within_quota(self._collection, {"owner_id": wallet.owner_id}, cap, insert)

    async def _insert(self, wallet: Wallet, slot: int | None) -> None:
        try:
            await self._collection.insert_one(_wallet_document(wallet, slot))
        except DuplicateKeyError:
            if await self._collection.find_one({"_id": wallet.id}, {"_id": 1}) is None:
                raise  # the quota's index: insert_within_quota looks for another slot
            raise DuplicateWallet(wallet.id) from None

    async def get(self, wallet_id: str) -> Wallet | None:
        document = await self._collection.find_one({"_id": wallet_id})
        return _to_wallet(document) if document else None

    async def page(
        self, owner_id: str | None, limit: int, after: PagePosition | None
    ) -> list[Wallet]:
        query: dict[str, Any] = {}
        if owner_id is not None:
            query["owner_id"] = owner_id
        if after is not None:
            query["position"] = {"$gt": after.key}
        cursor = self._collection.find(query).sort("position", ASCENDING).limit(limit)
        return [_to_wallet(d) async for d in cursor]

    async def set_status(
        self,
        wallet_id: str,
        status: WalletStatus,
        allowed_from: frozenset[WalletStatus],
    ) -> bool:
        result = await self._collection.update_one(
            {"_id": wallet_id, "status": {"$in": sorted(s.value for s in allowed_from)}},
            {"$set": {"status": status.value}, "$inc": {"version": 1}, **_TOUCH},
        )
        return bool(result.matched_count == 1)

    async def apply(self, wallet_id: str, guard: Guard, change: WalletChange) -> bool:
        new_marks = {f"marks.{mark_key(op)}": mark_value(m) for op, m in change.marks.items()}
        result = await self._collection.update_one(
            guard_filter(wallet_id, guard),
            {
                "$inc": {
                    "balance": change.balance_delta,
                    "version": 1,
                    "marks_count": len(new_marks),
                },
                "$set": new_marks,
                **_TOUCH,
            },
        )
        return bool(result.matched_count == 1)

    async def prune_marks(
        self,
        wallet_id: str,
        marks_epoch: int,
        operation_ids: Collection[str],
        pruned_through_ms: int | None,
    ) -> bool:
        if not operation_ids:
            return True
        keys = [f"marks.{mark_key(op)}" for op in operation_ids]
        # Marks only ever leave through a prune, which moves the epoch: at this epoch every
        # listed mark still exists, so the count goes down by exactly len(keys).
        result = await self._collection.update_one(
            {"_id": wallet_id, "marks_epoch": marks_epoch, **{k: {"$exists": True} for k in keys}},
            {
                "$unset": dict.fromkeys(keys, ""),
                "$inc": {"marks_epoch": 1, "marks_count": -len(keys)},
                "$set": {"pruned_through_ms": pruned_through_ms},
            },
        )
        return bool(result.matched_count == 1)

    async def with_marks(self, limit: int, after_id: str | None = None) -> list[Wallet]:
        query: dict[str, Any] = {"marks_count": {"$gt": 0}}
        if after_id is not None:
            query["_id"] = {"$gt": after_id}
        cursor = self._collection.find(query).sort("_id", ASCENDING).limit(limit)
        return [_to_wallet(d) async for d in cursor]


class OperationDocument(Document):
    """The `wallet_operations` collection: one record per operation id, written once."""

    id: str  # type: ignore[assignment]  # the operation id "<saga_id>:<step>"
    saga_id: str
    step: SagaStep
    kind: OperationKind
    wallet_id: str
    amount: int
    currency: str
    verdict: Verdict
    outcome: StepOutcome
    reason: str | None = None
    recorded_at: datetime

    class Settings:
        name = "wallet_operations"
        indexes = [IndexModel([("wallet_id", ASCENDING), ("recorded_at", ASCENDING)])]


def _to_record(doc: Mapping[str, Any]) -> OperationRecord:
    return OperationRecord(
        operation_id=doc["_id"],
        saga_id=doc["saga_id"],
        step=SagaStep(doc["step"]),
        kind=OperationKind(doc["kind"]),
        wallet_id=doc["wallet_id"],
        amount=doc["amount"],
        currency=doc["currency"],
        verdict=Verdict(doc["verdict"]),
        outcome=StepOutcome(doc["outcome"]),
        reason=doc.get("reason"),
        recorded_at=doc["recorded_at"],
    )


def _record_document(record: OperationRecord) -> dict[str, Any]:
    """A record as `OperationDocument` stores it (same fields, same order)."""
    return {
        "_id": record.operation_id,
        "saga_id": record.saga_id,
        "step": record.step.value,
        "kind": record.kind.value,
        "wallet_id": record.wallet_id,
        "amount": record.amount,
        "currency": record.currency,
        "verdict": record.verdict.value,
        "outcome": record.outcome.value,
        "reason": record.reason,
        "recorded_at": record.recorded_at,
    }


class MongoOperationLog:
    def __init__(self) -> None:
        self._collection = OperationDocument.get_pymongo_collection()

    async def find(self, operation_ids: Collection[str]) -> dict[str, OperationRecord]:
        if not operation_ids:
            return {}
        cursor = self._collection.find({"_id": {"$in": list(operation_ids)}})
        return {d["_id"]: _to_record(d) async for d in cursor}

    async def record_all(self, records: Collection[OperationRecord]) -> None:
        await insert_all_first(self._collection, [_record_document(r) for r in records])

    async def record(self, record: OperationRecord) -> OperationRecord:
        # The unique _id is the arbiter: the record written first is the answer.
        document = _record_document(record)
        stored = await insert_first(self._collection, document)
        return record if stored is document else _to_record(stored)
