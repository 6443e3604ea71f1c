"""The ledger's internal HTTP API: balances, statements, and the journal check."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel

from payflow_contracts.paging import InvalidCursor, PagePosition, decode_cursor, encode_cursor
from payflow_ledger.domain.journal import (
    Direction,
    TransactionKind,
    balances,
    check_journal,
    system_balances,
    wallet_balances,
)
from payflow_ledger.domain.postings import LedgerRecord
from payflow_ledger.repository import AccountStore, Journal, position_of
from payflow_service import InternalCaller, ProblemError

router = APIRouter(prefix="/internal")


async def _accounts(request: Request) -> AccountStore:
    return request.app.state.runtime.components["accounts"]  # type: ignore[no-any-return]


async def _journal(request: Request) -> Journal:
    return request.app.state.runtime.components["journal"]  # type: ignore[no-any-return]


Accounts = Annotated[AccountStore, Depends(_accounts)]
JournalDep = Annotated[Journal, Depends(_journal)]


class AccountBalance(BaseModel):
    wallet_id: str
    currency: str | None
    """None for an account that was never opened (no posting ever touched it)."""
    balance: int


class EntryPublic(BaseModel):
    """One entry, from the wallet's point of view: a debit took money out, a credit put in."""

    id: str
    transfer_id: str
    direction: Direction
    amount: int
    currency: str
    kind: TransactionKind
    created_at: datetime


class EntryPage(BaseModel):
    data: list[EntryPublic]
    next_cursor: str | None


class StatementPage(BaseModel):
    opening_balance: int | None
    """The balance just before `from` (first page only: null on the pages after it)."""
    data: list[EntryPublic]
    """Oldest first."""
    next_cursor: str | None


class Balances(BaseModel):
    balances: dict[str, int]
    """Every wallet account."""
    system: dict[str, int]
    """Every system account: `funding:<CUR>` (minus the top-ups it funded) and `fees:<CUR>`
    (the fees it earned). With the wallets they sum to zero per currency."""


class JournalCheckPublic(BaseModel):
    balanced: bool
    transactions_checked: int
    unbalanced: list[str]


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
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> EntryPage:
    try:
        before = decode_cursor(cursor) if cursor else None
    except InvalidCursor:
        raise ProblemError(400, "invalid_cursor", "The cursor is not valid.") from None
    found = await journal.page_for_account(wallet_id, limit + 1, before)
    page = found[:limit]
    entries = _entries_of(wallet_id, page)
    next_cursor = encode_cursor(position_of(page[-1])) if len(found) > limit else None
    return EntryPage(data=entries, next_cursor=next_cursor)


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
    return PagePosition(moment.replace(microsecond=moment.microsecond // 1000 * 1000), "")


@router.get("/accounts/{wallet_id}/statement")
async def account_statement(
    wallet_id: str,
    journal: JournalDep,
    _: InternalCaller,
    from_: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    to: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    cursor: str | None = None,
) -> StatementPage:
    """The account's entries in [from, to), oldest first, one page at a time; the first page
    carries the opening balance (everything before `from`)."""
    try:
        after = decode_cursor(cursor) if cursor else None
    except InvalidCursor:
        raise ProblemError(400, "invalid_cursor", "The cursor is not valid.") from None
    start = _bound(from_) if from_ is not None else None
    until = _bound(to) if to is not None else None
    opening: int | None = None
    if after is None:
        after = start
        opening = await journal.balance_before(wallet_id, start) if start is not None else 0
    found = await journal.page_for_account_ascending(wallet_id, limit + 1, after, until)
    page = found[:limit]
    entries = _entries_of(wallet_id, page)
    next_cursor = encode_cursor(position_of(page[-1])) if len(found) > limit else None
    return StatementPage(opening_balance=opening, data=entries, next_cursor=next_cursor)


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
