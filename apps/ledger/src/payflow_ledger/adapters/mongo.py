"""MongoDB adapters of the ledger ports: Beanie documents declare the collections (fields and
indexes); the stores read and write through their pymongo collections. Inserts only: an account
and a journal record are each written once and never updated."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any

from beanie import Document
from pydantic import BaseModel
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from payflow_contracts.paging import PagePosition
from payflow_contracts.saga import SagaStep, StepOutcome
from payflow_ledger.domain.journal import (
    Account,
    Direction,
    Entry,
    JournalTransaction,
    TransactionKind,
)
from payflow_ledger.domain.postings import LedgerRecord, LedgerVerdict, position_of
from payflow_service.mongo import insert_first


class AccountDocument(Document):
    """The `accounts` collection: a wallet's account or a currency's funding account."""

    id: str  # type: ignore[assignment]  # the wallet id, or "funding:<CUR>"
    currency: str
    opened_at: datetime

    class Settings:
        name = "accounts"


def _to_account(doc: Mapping[str, Any]) -> Account:
    return Account(id=doc["_id"], currency=doc["currency"], opened_at=doc["opened_at"])


class MongoAccountStore:
    @property
    def _accounts(self) -> AsyncCollection[dict[str, Any]]:
        return AccountDocument.get_pymongo_collection()

    async def open(self, account: Account) -> Account:
        document = {"_id": account.id, "currency": account.currency, "opened_at": account.opened_at}
        stored = await insert_first(self._accounts, document)
        # Ours when the insert won; otherwise the account as whoever opened it first stored it.
        return account if stored is document else _to_account(stored)

    async def get(self, account_id: str) -> Account | None:
        stored = await self._accounts.find_one({"_id": account_id})
        return _to_account(stored) if stored else None

    async def all(self) -> AsyncIterator[Account]:
        async for doc in self._accounts.find({}):
            yield _to_account(doc)


class EntryModel(BaseModel):
    account: str
    direction: Direction
    amount: int


class TransactionModel(BaseModel):
    id: str
    kind: TransactionKind
    currency: str
    entries: list[EntryModel]
    reverses: str | None = None


class JournalDocument(Document):
    """The `journal` collection: one document per saga step the ledger decided, `_id` = the
    operation id. A posting or reversal carries its journal transaction, entries included."""

    id: str  # type: ignore[assignment]  # the operation id "<saga_id>:<step>"
    saga_id: str
    step: SagaStep
    verdict: LedgerVerdict
    outcome: StepOutcome
    reason: str | None = None
    recorded_at: datetime
    transaction: TransactionModel | None = None
    kind: TransactionKind | None = None
    """The transaction's kind, at the top level so that transactions are found by an index."""
    accounts: list[str] = []
    """The accounts the transaction touches (a statement is a query on this)."""
    position: str | None = None
    """(recorded_at, transaction id) as one exactly comparable string (see payflow_contracts.paging)."""

    class Settings:
        name = "journal"
        indexes = [
            IndexModel([("accounts", ASCENDING), ("position", DESCENDING)], name="by_account"),
            IndexModel([("kind", ASCENDING)], name="by_kind"),
        ]


def _to_transaction(stored: Mapping[str, Any]) -> JournalTransaction:
    return JournalTransaction(
        id=stored["id"],
        kind=TransactionKind(stored["kind"]),
        currency=stored["currency"],
        entries=tuple(
            Entry(e["account"], Direction(e["direction"]), e["amount"]) for e in stored["entries"]
        ),
        reverses=stored.get("reverses"),
    )


def _to_record(doc: Mapping[str, Any]) -> LedgerRecord:
    transaction = doc.get("transaction")
    return LedgerRecord(
        operation_id=doc["_id"],
        saga_id=doc["saga_id"],
        step=SagaStep(doc["step"]),
        verdict=LedgerVerdict(doc["verdict"]),
        recorded_at=doc["recorded_at"],
        transaction=_to_transaction(transaction) if transaction else None,
    )


def _transaction_document(transaction: JournalTransaction) -> dict[str, Any]:
    return {
        "id": transaction.id,
        "kind": transaction.kind.value,
        "currency": transaction.currency,
        "entries": [
            {"account": e.account, "direction": e.direction.value, "amount": e.amount}
            for e in transaction.entries
        ],
        "reverses": transaction.reverses,
    }


def _to_document(record: LedgerRecord) -> dict[str, Any]:
    """The stored form of a record: the fields of `JournalDocument`, in its order."""
    transaction = record.transaction
    return {
        "_id": record.operation_id,
        "saga_id": record.saga_id,
        "step": record.step.value,
        "verdict": record.verdict.value,
        "outcome": record.outcome.value,
        "reason": record.reason,
        "recorded_at": record.recorded_at,
        "transaction": _transaction_document(transaction) if transaction else None,
        "kind": transaction.kind.value if transaction else None,
        "accounts": list(transaction.accounts) if transaction else [],
        "position": position_of(record).key if transaction else None,
    }


_TRANSACTION_KINDS = [k.value for k in TransactionKind]
_TRANSACTION_ONLY = {"_id": 0, "transaction": 1}
"""What a balance or a journal check reads of a journal document."""


class MongoJournal:
    @property
    def _journal(self) -> AsyncCollection[dict[str, Any]]:
        return JournalDocument.get_pymongo_collection()

    async def get(self, operation_id: str) -> LedgerRecord | None:
        stored = await self._journal.find_one({"_id": operation_id})
        return _to_record(stored) if stored else None

    async def record(self, record: LedgerRecord) -> LedgerRecord:
        # The unique _id is the arbiter: the decision written first is the answer.
        document = _to_document(record)
        stored = await insert_first(self._journal, document)
        return record if stored is document else _to_record(stored)

    async def page_for_account(
        self, account_id: str, limit: int, before: PagePosition | None
    ) -> list[LedgerRecord]:
        query: dict[str, Any] = {"accounts": account_id}
        if before is not None:
            query["position"] = {"$lt": before.key}
        cursor = self._journal.find(query).sort("position", DESCENDING).limit(limit)
        return [_to_record(d) async for d in cursor]

    async def page_for_account_ascending(
        self,
        account_id: str,
        limit: int,
        after: PagePosition | None,
        until: PagePosition | None,
    ) -> list[LedgerRecord]:
        query: dict[str, Any] = {"accounts": account_id}
        bounds: dict[str, str] = {}
        if after is not None:
            bounds["$gt"] = after.key
        if until is not None:
            bounds["$lt"] = until.key
        if bounds:
            query["position"] = bounds
        cursor = self._journal.find(query).sort("position", ASCENDING).limit(limit)
        return [_to_record(d) async for d in cursor]

    async def balance_before(self, account_id: str, before: PagePosition) -> int:
        query = {"accounts": account_id, "position": {"$lt": before.key}}
        total = 0
        async for document in self._journal.find(query, _TRANSACTION_ONLY):
            if document.get("transaction") is not None:
                total += sum(
                    entry.signed_amount
                    for entry in _to_transaction(document["transaction"]).entries
                    if entry.account == account_id
                )
        return total

    async def transactions(
        self, account_id: str | None = None
    ) -> AsyncIterator[JournalTransaction]:
        query: dict[str, Any] = {"kind": {"$in": _TRANSACTION_KINDS}}
        if account_id is not None:
            query["accounts"] = account_id
        async for document in self._journal.find(query, _TRANSACTION_ONLY):
            if document.get("transaction") is not None:
                yield _to_transaction(document["transaction"])
