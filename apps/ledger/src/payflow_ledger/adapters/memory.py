"""In-memory twins of the ledger ports, for fast tests; they pass the same contract suite."""

from __future__ import annotations

from collections.abc import AsyncIterator

from payflow_contracts.paging import PagePosition
from payflow_ledger.domain.journal import Account, JournalTransaction
from payflow_ledger.domain.postings import LedgerRecord, position_of


class InMemoryAccountStore:
    def __init__(self) -> None:
        self._accounts: dict[str, Account] = {}

    async def open(self, account: Account) -> Account:
        return self._accounts.setdefault(account.id, account)

    async def get(self, account_id: str) -> Account | None:
        return self._accounts.get(account_id)

    async def all(self) -> AsyncIterator[Account]:
        for account in list(self._accounts.values()):
            yield account


class InMemoryJournal:
    def __init__(self) -> None:
        self._records: dict[str, LedgerRecord] = {}

    async def get(self, operation_id: str) -> LedgerRecord | None:
        return self._records.get(operation_id)

    async def record(self, record: LedgerRecord) -> LedgerRecord:
        return self._records.setdefault(record.operation_id, record)

    async def page_for_account(
        self, account_id: str, limit: int, before: PagePosition | None
    ) -> list[LedgerRecord]:
        touching = [
            r
            for r in self._records.values()
            if r.transaction is not None and account_id in r.transaction.accounts
        ]
        touching.sort(key=position_of, reverse=True)
        if before is not None:
            touching = [r for r in touching if position_of(r) < before]
        return touching[:limit]

    async def page_for_account_ascending(
        self,
        account_id: str,
        limit: int,
        after: PagePosition | None,
        until: PagePosition | None,
    ) -> list[LedgerRecord]:
        touching = sorted(
            (
                r
                for r in self._records.values()
                if r.transaction is not None and account_id in r.transaction.accounts
            ),
            key=position_of,
        )
        return [
            r
            for r in touching
            if (after is None or position_of(r) > after)
            and (until is None or position_of(r) < until)
        ][:limit]

    async def balance_before(self, account_id: str, before: PagePosition) -> int:
        return sum(
            entry.signed_amount
            for r in self._records.values()
            if r.transaction is not None and position_of(r) < before
            for entry in r.transaction.entries
            if entry.account == account_id
        )

    async def transactions(
        self, account_id: str | None = None
    ) -> AsyncIterator[JournalTransaction]:
        for record in list(self._records.values()):
            transaction = record.transaction
            if transaction is not None and (
                account_id is None or account_id in transaction.accounts
            ):
                yield transaction
