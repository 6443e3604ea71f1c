"""A wallet: one owner's balance in one currency, its status, and its operation marks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from payflow_wallet.domain.errors import WalletClosed


class WalletStatus(StrEnum):
    ACTIVE = "active"
    FROZEN = "frozen"
    CLOSED = "closed"


class Verdict(StrEnum):
    """What one saga operation did to a wallet, decided once and never changed.

    Several verdicts map to the same reply outcome; they are kept apart so that the recorded
    reason says why (a frozen wallet, a cancelled step, a sandbox fault).
    """

    DEBITED = "debited"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    CREDITED = "credited"
    REFUNDED = "refunded"
    WALLET_FROZEN = "wallet_frozen"
    WALLET_CLOSED = "wallet_closed"
    WALLET_MISSING = "wallet_missing"
    CURRENCY_MISMATCH = "currency_mismatch"
    FAULT_REJECTED = "fault_rejected"
    CANCELLED = "cancelled"
    """A debit or credit that its saga's compensation settled before it arrived."""
    DEBIT_CANCELLED = "debit_cancelled"
    CREDIT_CANCELLED = "credit_cancelled"
    CREDIT_ALREADY_APPLIED = "credit_already_applied"


@dataclass(frozen=True)
class Wallet:
    id: str
    owner_id: str
    currency: str
    balance: int
    status: WalletStatus
    created_at: datetime
    updated_at: datetime
    version: int = 0
    marks: Mapping[str, Verdict] = field(default_factory=dict)
    """Verdicts of operations decided on this wallet whose record may not be written yet,
    keyed by operation id. Each is written in the same atomic update as its balance change."""
    marks_epoch: int = 0
    """Bumped whenever marks are pruned: a decision read before a prune is refused."""


def open_wallet(wallet_id: str, owner_id: str, currency: str, now: datetime) -> Wallet:
    return Wallet(
        id=wallet_id,
        owner_id=owner_id,
        currency=currency,
        balance=0,
        status=WalletStatus.ACTIVE,
        created_at=now,
        updated_at=now,
    )


def statuses_allowing(target: WalletStatus) -> frozenset[WalletStatus]:
    """The statuses from which freeze or unfreeze may move a wallet to `target`.

    Both are idempotent (freezing a frozen wallet changes nothing); a closed wallet stays closed.
    """
    if target is WalletStatus.CLOSED:
        raise ValueError("wallets are not closed through freeze and unfreeze")
    return frozenset({WalletStatus.ACTIVE, WalletStatus.FROZEN})


def with_status(wallet: Wallet, target: WalletStatus, now: datetime) -> Wallet:
    if wallet.status not in statuses_allowing(target):
        raise WalletClosed(wallet.id)
    return replace(wallet, status=target, updated_at=now, version=wallet.version + 1)
