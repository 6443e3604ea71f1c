"""The ledger's saga steps (post a transfer, post a top-up, reverse), each at most once.

Why this is safe: every decision is one journal document whose `_id` is the step's operation
id, inserted once. Concurrent deliveries race on that insert; the loser reads the winner and
answers with it. A reversal that finds no posting first inserts a tombstone under the
posting's id: then either the tombstone or the posting wins that one insert, and the reversal
decides on whichever did. A crash leaves either no document (the redelivery decides afresh) or
the decision (the redelivery replays it); there is never a second write to lose.
"""

from __future__ import annotations

from datetime import datetime

from payflow_contracts import new_id
from payflow_contracts.clock import Clock, utc_now
from payflow_ledger.domain.journal import Account
from payflow_ledger.domain.postings import (
    LedgerRecord,
    PostingRequest,
    ReversalRequest,
    cancelled_posting,
    decide_posting,
    decide_reversal,
)
from payflow_ledger.ports import AccountStore, Journal


class LedgerPostings:
    def __init__(
        self,
        accounts: AccountStore,
        journal: Journal,
        known_accounts_capacity: int = 100_000,
        clock: Clock = utc_now,
    ) -> None:
        self._accounts = accounts
        self._journal = journal
        self._clock = clock
        # An account's currency is fixed by its opening and never changes, so once seen it is
        # kept in memory (bounded) and later postings do not ask the store again.
        self._currency_of: dict[str, str] = {}
        self._capacity = known_accounts_capacity

    async def post(self, request: PostingRequest) -> LedgerRecord:
        # No read first: a repeat decides again, loses the insert race on the operation id,
        # and answers with the decision stored the first time (see `Journal.record`).
        now = self._clock()
        currencies: dict[str, str] = {}
        if not request.fault_reject and request.source != request.destination:
            for account_id in request.accounts:
                currencies[account_id] = await self._currency(account_id, request.currency, now)
        decision = decide_posting(request, currencies, new_id("jtx"), now)
        return await self._journal.record(decision)

    async def _currency(self, account_id: str, currency: str, now: datetime) -> str:
        known = self._currency_of.get(account_id)
        if known is not None:
            return known
        # Opening is insert-if-absent, so an account's currency is fixed by its first
        # posting however many race for it; each posting then checks against it.
        opened = await self._accounts.open(Account(account_id, currency, now))
        if len(self._currency_of) >= self._capacity:
            self._currency_of.pop(next(iter(self._currency_of)))
        self._currency_of[account_id] = opened.currency
        return opened.currency

    async def reverse(self, request: ReversalRequest) -> LedgerRecord:
        existing = await self._journal.get(request.operation_id)
        if existing is not None:
            return existing
        now = self._clock()
        posting = await self._journal.get(request.posting_operation_id)
        if posting is None:
            # The posting has not arrived: cancel it, unless it lands first (then reverse it).
            posting = await self._journal.record(cancelled_posting(request, now))
        decision = decide_reversal(request, posting, new_id("jtx"), now)
        return await self._journal.record(decision)
