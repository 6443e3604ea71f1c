"""The pydantic models of the ledger's internal HTTP API (docs/architecture.md, "ledger")."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from payflow_ledger.domain.journal import Direction, TransactionKind


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
