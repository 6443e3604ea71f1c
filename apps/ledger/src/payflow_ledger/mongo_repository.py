"""MongoDB adapters of the ledger ports: Beanie documents for schema and indexes; inserts only
(a journal record is written once and never updated)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from beanie import Document, SortDirection
from pydantic import BaseModel
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from payflow_contracts.paging import PagePosition
from payflow_contracts.saga import SagaStep, StepOutcome
from payflow_ledger.domain.journal import (
    Account,
    Direction,
    Entry,
    JournalTransaction,
    TransactionKind,
)
from payflow_ledger.domain.postings import LedgerRecord, LedgerVerdict
from payflow_ledger.repository import position_of


class AccountDocument(Document):
    """The `accounts` collection: a wallet's account or a currency's funding account."""

    id: str  # type: ignore[assignment]  # the wallet id, or "funding:<CUR>"
    currency: str
    opened_at: datetime

    class Settings:
        name = "accounts"


def _to_account(doc: AccountDocument) -> Account:
    return Account(id=doc.id, currency=doc.currency, opened_at=doc.opened_at)


class MongoAccountStore:
    async def open(self, account: Account) -> Account:
        try:
            await AccountDocument(
                id=account.id, currency=account.currency, opened_at=account.opened_at
            ).insert()
        except DuplicateKeyError:
            stored = await AccountDocument.get(account.id)
            if stored is None:  # pragma: no cover - accounts are never deleted
                raise
            return _to_account(stored)
        return account

    async def get(self, account_id: str) -> Account | None:
        stored = await AccountDocument.get(account_id)
        return _to_account(stored) if stored else None

    async def all(self) -> AsyncIterator[Account]:
        async for doc in AccountDocument.find_all():
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


def _to_transaction(model: TransactionModel) -> JournalTransaction:
    return JournalTransaction(
        id=model.id,
        kind=model.kind,
        currency=model.currency,
        entries=tuple(Entry(e.account, e.direction, e.amount) for e in model.entries),
        reverses=model.reverses,
    )


def _to_record(doc: JournalDocument) -> LedgerRecord:
    return LedgerRecord(
        operation_id=doc.id,
        saga_id=doc.saga_id,
        step=doc.step,
        verdict=doc.verdict,
        recorded_at=doc.recorded_at,
        transaction=_to_transaction(doc.transaction) if doc.transaction else None,
    )


def _to_document(record: LedgerRecord) -> JournalDocument:
    transaction = record.transaction
    return JournalDocument(
        id=record.operation_id,
        saga_id=record.saga_id,
        step=record.step,
        verdict=record.verdict,
        outcome=record.outcome,
        reason=record.reason,
        recorded_at=record.recorded_at,
        transaction=TransactionModel(
            id=transaction.id,
            kind=transaction.kind,
            currency=transaction.currency,
            entries=[
                EntryModel(account=e.account, direction=e.direction, amount=e.amount)
                for e in transaction.entries
            ],
            reverses=transaction.reverses,
        )
        if transaction
        else None,
        kind=transaction.kind if transaction else None,
        accounts=list(transaction.accounts) if transaction else [],
        position=position_of(record).key if transaction else None,
    )


TRANSACTION_KINDS = [k.value for k in TransactionKind]


class MongoJournal:
    async def get(self, operation_id: str) -> LedgerRecord | None:
        stored = await JournalDocument.get(operation_id)
        return _to_record(stored) if stored else None

    async def record(self, record: LedgerRecord) -> LedgerRecord:
        try:
            await _to_document(record).insert()
        except DuplicateKeyError:
            # The unique _id is the arbiter: the decision written first is the answer.
            stored = await self.get(record.operation_id)
            if stored is None:  # pragma: no cover - journal records are never deleted
                raise
            return stored
        return record

    async def page_for_account(
        self, account_id: str, limit: int, before: PagePosition | None
    ) -> list[LedgerRecord]:
        query: dict[str, Any] = {"accounts": account_id}
        if before is not None:
            query["position"] = {"$lt": before.key}
        documents = (
            await JournalDocument.find(query)
            .sort([("position", SortDirection.DESCENDING)])
            .limit(limit)
            .to_list()
        )
        return [_to_record(d) for d in documents]

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
        documents = (
            await JournalDocument.find(query)
            .sort([("position", SortDirection.ASCENDING)])
            .limit(limit)
            .to_list()
        )
        return [_to_record(d) for d in documents]

    async def balance_before(self, account_id: str, before: PagePosition) -> int:
        total = 0
        query = {"accounts": account_id, "position": {"$lt": before.key}}
        async for document in JournalDocument.find(query, projection_model=_TransactionOnly):
            if document.transaction is not None:
                total += sum(
                    entry.amount if entry.direction is Direction.CREDIT else -entry.amount
                    for entry in document.transaction.entries
                    if entry.account == account_id
                )
        return total

    async def transactions(
        self, account_id: str | None = None
    ) -> AsyncIterator[JournalTransaction]:
        query: dict[str, Any] = {"kind": {"$in": TRANSACTION_KINDS}}
        if account_id is not None:
            query["accounts"] = account_id
        async for document in JournalDocument.find(query, projection_model=_TransactionOnly):
            if document.transaction is not None:
                yield _to_transaction(document.transaction)


class _TransactionOnly(BaseModel):
    """What a balance or a journal check reads of a journal document."""

    transaction: TransactionModel | None = None
