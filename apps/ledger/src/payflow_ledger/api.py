"""The ledger's internal HTTP API: balances, statements, and the journal check."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from payflow_contracts.clock import to_millis
from payflow_contracts.paging import PagePosition, cut_page
from payflow_ledger.deps import Accounts, JournalDep
from payflow_ledger.domain.journal import (
    balances,
    check_journal,
    system_balances,
    wallet_balances,
)
from payflow_ledger.domain.postings import LedgerRecord, position_of
from payflow_ledger.schemas import (
    AccountBalance,
    Balances,
    EntryPage,
    EntryPublic,
    JournalCheckPublic,
    StatementPage,
)
from payflow_service import InternalCaller
from payflow_service.paging import Cursor, Limit

router = APIRouter(prefix="/internal")


@router.get("/accounts/{wallet_id}")
async def account_balance(
    wallet_id: str, accounts: Accounts, journal: JournalDep, _: InternalCaller
) -> AccountBalance:
    account = await accounts.get(wallet_id)
    totals = balances([t async for t in journal.transactions(wallet_id)])
    return AccountBalance(
        wallet_id=wallet_id,
        currency=account.currency if account else None,
        balance=totals.get(wallet_id, 0),
    )


@router.get("/accounts/{wallet_id}/entries")
async def account_entries(
    wallet_id: str,
    journal: JournalDep,
    _: InternalCaller,
    before: Cursor,
    limit: Limit = 20,
) -> EntryPage:
    """The account's entries, newest first; the cursor is the last record of the page before."""
    found = await journal.page_for_account(wallet_id, limit + 1, before)
    page, next_cursor = cut_page(found, limit, position_of)
    return EntryPage(data=_entries_of(wallet_id, page), next_cursor=next_cursor)


def _entries_of(wallet_id: str, records: list[LedgerRecord]) -> list[EntryPublic]:
    """The account's own entries of these journal records, in their order."""
    entries: list[EntryPublic] = []
    for record in records:
        transaction = record.transaction
        assert transaction is not None
        entries += [
            EntryPublic(
                id=f"{transaction.id}.{index}",
                transfer_id=record.saga_id,
                direction=entry.direction,
                amount=entry.amount,
                currency=transaction.currency,
                kind=transaction.kind,
                created_at=record.recorded_at,
            )
            for index, entry in enumerate(transaction.entries)
            if entry.account == wallet_id
        ]
    return entries


def _bound(moment: datetime) -> PagePosition:
    """Where a statement starts or stops: before every transaction of that millisecond."""
    return PagePosition(to_millis(moment), "")


@router.get("/accounts/{wallet_id}/statement")
async def account_statement(
    wallet_id: str,
    journal: JournalDep,
    _: InternalCaller,
    after: Cursor,
    from_: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    to: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> StatementPage:
    """The account's entries in [from, to), oldest first, one page at a time; the first page
    carries the opening balance (everything before `from`). The cursor is the last record of
    the page before: the next page starts strictly after it."""
    start = _bound(from_) if from_ is not None else None
    until = _bound(to) if to is not None else None
    opening: int | None = None
    if after is None:
        after = start
        opening = await journal.balance_before(wallet_id, start) if start is not None else 0
    found = await journal.page_for_account_ascending(wallet_id, limit + 1, after, until)
    page, next_cursor = cut_page(found, limit, position_of)
    return StatementPage(
        opening_balance=opening, data=_entries_of(wallet_id, page), next_cursor=next_cursor
    )


@router.get("/balances")
async def all_balances(accounts: Accounts, journal: JournalDep, _: InternalCaller) -> Balances:
    totals = balances([t async for t in journal.transactions()])
    opened = [a async for a in accounts.all()]
    return Balances(
        balances=wallet_balances(opened, totals), system=system_balances(opened, totals)
    )


@router.get("/journal/check")
async def journal_check(journal: JournalDep, _: InternalCaller) -> JournalCheckPublic:
    report = check_journal([t async for t in journal.transactions()])
    return JournalCheckPublic(
        balanced=report.balanced,
        transactions_checked=report.transactions_checked,
        unbalanced=list(report.unbalanced),
    )
