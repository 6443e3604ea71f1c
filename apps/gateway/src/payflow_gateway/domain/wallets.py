"""Wallets and ledger entries as the gateway sees them; both are owned by other services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class WalletStatus(StrEnum):
    ACTIVE = "active"
    FROZEN = "frozen"
    CLOSED = "closed"


@dataclass(frozen=True)
class Wallet:
    id: str
    owner_id: str
    currency: str
    balance: int
    """Minor units of `currency`."""
    status: WalletStatus
    created_at: datetime
    updated_at: datetime

    def is_owned_by(self, user_id: str) -> bool:
        return self.owner_id == user_id


@dataclass(frozen=True)
class WalletFacts:
    """What never changes about a wallet once it is opened: safe to keep as long as we like."""

    id: str
    owner_id: str
    currency: str

    def is_owned_by(self, user_id: str) -> bool:
        return self.owner_id == user_id


def facts_of(wallet: Wallet) -> WalletFacts:
    return WalletFacts(wallet.id, wallet.owner_id, wallet.currency)


@dataclass(frozen=True)
class LedgerEntry:
    id: str
    transfer_id: str | None
    direction: str
    amount: int
    currency: str
    kind: str
    created_at: datetime


@dataclass(frozen=True)
class StatementPage:
    opening_balance: int | None
    """The balance just before the statement's start (first page only)."""
    entries: list[LedgerEntry]
    """Oldest first."""
    next_cursor: str | None
