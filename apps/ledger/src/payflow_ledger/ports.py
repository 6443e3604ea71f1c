"""The storage ports of the ledger: accounts and the journal of step decisions.

Two implementations pass one contract suite: `adapters.mongo` (production) and
`adapters.memory` (its in-memory twin). Nothing here is ever updated: accounts and journal
records are inserted once, and the unique id of each is the arbiter between concurrent writers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from payflow_contracts.paging import PagePosition
from payflow_ledger.domain.journal import Account, JournalTransaction
from payflow_ledger.domain.postings import LedgerRecord


class AccountStore(Protocol):
    async def open(self, account: Account) -> Account:
        """Open the account unless it exists; return the stored one (its currency is fixed
        by whoever opened it first)."""

    async def get(self, account_id: str) -> Account | None: ...

    def all(self) -> AsyncIterator[Account]: ...


class Journal(Protocol):
    async def get(self, operation_id: str) -> LedgerRecord | None: ...

    async def record(self, record: LedgerRecord) -> LedgerRecord:
        """Insert the decision unless its operation has one; return the stored decision."""

    async def page_for_account(
        self, account_id: str, limit: int, before: PagePosition | None
    ) -> list[LedgerRecord]:
        """Up to `limit` records with a transaction touching the account, newest first (by
        recorded_at, then transaction id), strictly before `before`."""

    async def page_for_account_ascending(
        self,
        account_id: str,
        limit: int,
        after: PagePosition | None,
        until: PagePosition | None,
    ) -> list[LedgerRecord]:
        """Up to `limit` records with a transaction touching the account, oldest first,
        strictly after `after` and strictly before `until` (a statement's pages)."""

    async def balance_before(self, account_id: str, before: PagePosition) -> int:
        """The account's balance (credits minus debits) over its transactions strictly before
        `before`: a statement's opening balance."""

    def transactions(self, account_id: str | None = None) -> AsyncIterator[JournalTransaction]:
        """Every journal transaction (of one account, when given)."""
