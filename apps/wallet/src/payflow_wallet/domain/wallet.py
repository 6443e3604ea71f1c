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


class OperationKind(StrEnum):
    DEBIT = "debit"
    CREDIT = "credit"
    REFUND = "refund"
    CANCEL_CREDIT = "cancel_credit"


@dataclass(frozen=True)
class Mark:
    """One decided operation as the wallet holds it, written in the same atomic update as its
    balance change: the verdict and everything its permanent record needs, so that the record
    can be written later, off the hot path, by the mark pruner.

    A mark written before marks carried their record (a "legacy" mark) has only its verdict;
    it is pruned only once its record exists, as it was written then.
    """

    verdict: Verdict
    kind: OperationKind | None = None
    amount: int | None = None
    currency: str | None = None
    issued_ms: int | None = None
    """When the operation's saga began (milliseconds since the epoch, the orchestrator's
    clock); the same on every delivery and every resend of every step of that saga. None when
    the command did not say."""
    decided_at: datetime | None = None

    @property
    def carries_record(self) -> bool:
        return (
            self.kind is not None
            and self.amount is not None
            and self.currency is not None
            and self.decided_at is not None
        )


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
    marks: Mapping[str, Mark] = field(default_factory=dict)
    """Operations decided on this wallet and not yet pruned, keyed by operation id. Each is
    written in the same atomic update as its balance change."""
    marks_epoch: int = 0
    """Bumped whenever marks are pruned: a decision read before a prune is refused."""
    pruned_through_ms: int | None = 0
    """No mark ever pruned from this wallet was issued later than this (see `Mark.issued_ms`):
    an operation issued later cannot have a pruned mark, so the wallet alone says whether it
    was decided. None when unknown (marks pruned before marks carried their issue time): every
    operation on the wallet then reads the operation records too."""

    def verdict_of(self, operation_id: str) -> Verdict | None:
        mark = self.marks.get(operation_id)
        return mark.verdict if mark is not None else None


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
