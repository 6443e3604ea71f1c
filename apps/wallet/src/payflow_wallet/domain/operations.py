"""How a saga operation on a wallet is decided: from the wallet as read and what is already
recorded, to the verdict and the one guarded single-document write that makes it true.

A decision is only valid while the facts it was made on still hold, so each carries a `Guard`
that the store checks atomically with the write: the marks epoch read, the absence of the
marks it sets, and the balance and status conditions the verdict depends on. A write whose
guard fails changes nothing, and the caller reads again and decides again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from payflow_contracts.saga import SagaStep, StepOutcome, operation_id
from payflow_wallet.domain.wallet import Verdict, Wallet, WalletStatus


class OperationKind(StrEnum):
    DEBIT = "debit"
    CREDIT = "credit"
    REFUND = "refund"
    CANCEL_CREDIT = "cancel_credit"


COMPENSATED_KIND: Mapping[OperationKind, OperationKind] = {
    OperationKind.REFUND: OperationKind.DEBIT,
    OperationKind.CANCEL_CREDIT: OperationKind.CREDIT,
}


@dataclass(frozen=True)
class OperationRequest:
    """One saga command addressed to a wallet, as the domain needs it."""

    kind: OperationKind
    saga_id: str
    step: SagaStep
    wallet_id: str
    amount: int
    currency: str
    compensates: SagaStep | None = None
    """For a refund or a credit cancellation: the step (debit or credit) it settles."""
    fault_reject: bool = False
    """A sandbox fault asks for the step's business rejection."""

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise ValueError("an operation moves a strictly positive amount")
        if (self.kind in COMPENSATED_KIND) != (self.compensates is not None):
            raise ValueError(f"a {self.kind} operation names the step it compensates iff it is one")

    @property
    def operation_id(self) -> str:
        return operation_id(self.saga_id, self.step)

    @property
    def target_operation_id(self) -> str | None:
        return operation_id(self.saga_id, self.compensates) if self.compensates else None

    @property
    def operation_ids(self) -> tuple[str, ...]:
        target = self.target_operation_id
        return (self.operation_id,) if target is None else (self.operation_id, target)


@dataclass(frozen=True)
class Guard:
    """What must still be true of the wallet when the decision is written."""

    marks_epoch: int
    absent_marks: tuple[str, ...]
    statuses: frozenset[WalletStatus] | None = None
    balance_at_least: int | None = None
    balance_below: int | None = None

    def holds(self, wallet: Wallet) -> bool:
        if wallet.marks_epoch != self.marks_epoch:
            return False
        if any(op in wallet.marks for op in self.absent_marks):
            return False
        if self.statuses is not None and wallet.status not in self.statuses:
            return False
        if self.balance_at_least is not None and wallet.balance < self.balance_at_least:
            return False
        return self.balance_below is None or wallet.balance < self.balance_below


@dataclass(frozen=True)
class WalletChange:
    """The balance change and the marks one decision writes, atomically."""

    balance_delta: int
    marks: Mapping[str, Verdict]


def applied(wallet: Wallet, change: WalletChange) -> Wallet:
    """The wallet as a successful guarded write of `change` leaves it (the store's clock sets
    `updated_at`, which no decision reads)."""
    return replace(
        wallet,
        balance=wallet.balance + change.balance_delta,
        version=wallet.version + 1,
        marks={**wallet.marks, **change.marks},
    )


@dataclass(frozen=True)
class Settled:
    """The operation was decided before (a mark or a record says how)."""

    verdict: Verdict


@dataclass(frozen=True)
class Decide:
    """A fresh decision on an existing wallet: write `change` if `guard` still holds."""

    verdict: Verdict
    change: WalletChange
    guard: Guard


@dataclass(frozen=True)
class RecordOnly:
    """The wallet does not exist, so the operation records are the only arbiter; written in
    order (a compensated step's tombstone first), each insert-if-absent."""

    verdicts: tuple[tuple[str, Verdict], ...]


Decision = Settled | Decide | RecordOnly


def decide(
    request: OperationRequest, wallet: Wallet | None, recorded: Mapping[str, Verdict]
) -> Decision:
    """Decide `request` on `wallet` (None when it does not exist).

    `recorded` holds the verdicts already in the operation records for the request's operation
    and the step it compensates; the wallet's marks hold those not yet recorded (or not yet
    pruned). The wallet must have been read before the records (see the module docstring of
    `payflow_wallet.wallet_operations` for why the order matters).
    """
    op = request.operation_id
    known = recorded.get(op) or (wallet.marks.get(op) if wallet else None)
    if known is not None:
        return Settled(known)
    match request.kind:
        case OperationKind.DEBIT:
            return _decide_debit(request, wallet)
        case OperationKind.CREDIT:
            return _decide_credit(request, wallet)
        case OperationKind.REFUND | OperationKind.CANCEL_CREDIT:
            return _decide_compensation(request, wallet, recorded)


def _reject(
    request: OperationRequest,
    wallet: Wallet,
    verdict: Verdict,
    *,
    statuses: frozenset[WalletStatus] | None = None,
    balance_below: int | None = None,
) -> Decide:
    """A verdict that moves no money, guarded by the facts it rests on."""
    return Decide(
        verdict,
        WalletChange(0, {request.operation_id: verdict}),
        Guard(
            wallet.marks_epoch,
            (request.operation_id,),
            statuses=statuses,
            balance_below=balance_below,
        ),
    )


def _unavailable(request: OperationRequest, wallet: Wallet) -> Decide | None:
    """The rejections a debit and a credit share: a sandbox fault, currency, status."""
    if request.fault_reject:
        return _reject(request, wallet, Verdict.FAULT_REJECTED)
    if wallet.currency != request.currency:
        return _reject(request, wallet, Verdict.CURRENCY_MISMATCH)
    if wallet.status is WalletStatus.FROZEN:
        return _reject(
            request, wallet, Verdict.WALLET_FROZEN, statuses=frozenset({WalletStatus.FROZEN})
        )
    if wallet.status is WalletStatus.CLOSED:
        return _reject(
            request, wallet, Verdict.WALLET_CLOSED, statuses=frozenset({WalletStatus.CLOSED})
        )
    return None


ACTIVE_ONLY = frozenset({WalletStatus.ACTIVE})


def _decide_debit(request: OperationRequest, wallet: Wallet | None) -> Decision:
    if wallet is None:
        return RecordOnly(((request.operation_id, Verdict.WALLET_MISSING),))
    refused = _unavailable(request, wallet)
    if refused is not None:
        return refused
    if wallet.balance < request.amount:
        return _reject(request, wallet, Verdict.INSUFFICIENT_FUNDS, balance_below=request.amount)
    return Decide(
        Verdict.DEBITED,
        WalletChange(-request.amount, {request.operation_id: Verdict.DEBITED}),
        # The balance guard is what keeps every balance >= 0 under any concurrency.
        Guard(
            wallet.marks_epoch,
            (request.operation_id,),
            statuses=ACTIVE_ONLY,
            balance_at_least=request.amount,
        ),
    )


def _decide_credit(request: OperationRequest, wallet: Wallet | None) -> Decision:
    if wallet is None:
        return RecordOnly(((request.operation_id, Verdict.WALLET_MISSING),))
    refused = _unavailable(request, wallet)
    if refused is not None:
        return refused
    return Decide(
        Verdict.CREDITED,
        WalletChange(request.amount, {request.operation_id: Verdict.CREDITED}),
        Guard(wallet.marks_epoch, (request.operation_id,), statuses=ACTIVE_ONLY),
    )


_APPLIED = {OperationKind.REFUND: Verdict.DEBITED, OperationKind.CANCEL_CREDIT: Verdict.CREDITED}
_NOT_APPLIED = {
    OperationKind.REFUND: Verdict.DEBIT_CANCELLED,
    OperationKind.CANCEL_CREDIT: Verdict.CREDIT_CANCELLED,
}


def _decide_compensation(
    request: OperationRequest, wallet: Wallet | None, recorded: Mapping[str, Verdict]
) -> Decision:
    op = request.operation_id
    target = request.target_operation_id
    assert target is not None
    target_verdict = recorded.get(target) or (wallet.marks.get(target) if wallet else None)
    not_applied = _NOT_APPLIED[request.kind]
    if target_verdict is None:
        # The step never arrived (yet): settle it as cancelled in the same write, so that
        # when it does arrive it finds its verdict and moves nothing (guarantee 6).
        if wallet is None:
            return RecordOnly(((target, Verdict.CANCELLED), (op, not_applied)))
        return Decide(
            not_applied,
            WalletChange(0, {target: Verdict.CANCELLED, op: not_applied}),
            Guard(wallet.marks_epoch, (op, target)),
        )
    if target_verdict is not _APPLIED[request.kind]:
        # The step was refused or cancelled: nothing moved, so there is nothing to undo.
        if wallet is None:
            return RecordOnly(((op, not_applied),))
        return _reject(request, wallet, not_applied)
    if wallet is None:
        raise ValueError(f"{target} took effect on a wallet that does not exist")
    if request.kind is OperationKind.CANCEL_CREDIT:
        return _reject(request, wallet, Verdict.CREDIT_ALREADY_APPLIED)
    # A refund returns the money whatever the wallet's status: a compensation never fails.
    return Decide(
        Verdict.REFUNDED,
        WalletChange(request.amount, {op: Verdict.REFUNDED}),
        Guard(wallet.marks_epoch, (op,)),
    )


_OUTCOMES: Mapping[OperationKind, Mapping[Verdict, StepOutcome]] = {
    OperationKind.DEBIT: {
        Verdict.DEBITED: StepOutcome.DEBITED,
        Verdict.INSUFFICIENT_FUNDS: StepOutcome.INSUFFICIENT_FUNDS,
    },
    OperationKind.CREDIT: {Verdict.CREDITED: StepOutcome.CREDITED},
    OperationKind.REFUND: {
        Verdict.REFUNDED: StepOutcome.REFUNDED,
        Verdict.DEBIT_CANCELLED: StepOutcome.DEBIT_CANCELLED,
    },
    OperationKind.CANCEL_CREDIT: {
        Verdict.CREDIT_CANCELLED: StepOutcome.CREDIT_CANCELLED,
        Verdict.CREDIT_ALREADY_APPLIED: StepOutcome.CREDIT_ALREADY_APPLIED,
    },
}
REFUSALS = frozenset(
    {
        Verdict.WALLET_FROZEN,
        Verdict.WALLET_CLOSED,
        Verdict.WALLET_MISSING,
        Verdict.CURRENCY_MISMATCH,
        Verdict.FAULT_REJECTED,
        Verdict.CANCELLED,
    }
)
_REFUSED: Mapping[OperationKind, StepOutcome] = {
    OperationKind.DEBIT: StepOutcome.SOURCE_UNAVAILABLE,
    OperationKind.CREDIT: StepOutcome.DESTINATION_UNAVAILABLE,
}

REASONS: Mapping[Verdict, str | None] = {
    Verdict.DEBITED: None,
    Verdict.CREDITED: None,
    Verdict.REFUNDED: None,
    Verdict.INSUFFICIENT_FUNDS: "the wallet's balance is below the amount",
    Verdict.WALLET_FROZEN: "the wallet is frozen",
    Verdict.WALLET_CLOSED: "the wallet is closed",
    Verdict.WALLET_MISSING: "no such wallet",
    Verdict.CURRENCY_MISMATCH: "the wallet holds another currency",
    Verdict.FAULT_REJECTED: "rejected by a sandbox fault rule",
    Verdict.CANCELLED: "the saga cancelled this step before it arrived",
    Verdict.DEBIT_CANCELLED: "the debit never took effect; it is cancelled",
    Verdict.CREDIT_CANCELLED: "the credit never took effect; it is cancelled",
    Verdict.CREDIT_ALREADY_APPLIED: "the credit had already been applied",
}


def outcome_for(kind: OperationKind, verdict: Verdict) -> StepOutcome:
    """The reply outcome of a verdict. A debit or credit refused for any reason other than
    funds, including one cancelled before it arrived, answers the step's unavailability."""
    outcome = _OUTCOMES[kind].get(verdict)
    if outcome is not None:
        return outcome
    if kind in _REFUSED and verdict in REFUSALS:
        return _REFUSED[kind]
    raise ValueError(f"{verdict} is not a verdict of a {kind} operation")


@dataclass(frozen=True)
class OperationRecord:
    """The permanent record of one decided operation, and the reply it is answered with."""

    operation_id: str
    saga_id: str
    step: SagaStep
    kind: OperationKind
    wallet_id: str
    amount: int
    currency: str
    verdict: Verdict
    outcome: StepOutcome
    reason: str | None
    recorded_at: datetime = field(compare=False)


def record_of(
    request: OperationRequest, operation: str, verdict: Verdict, now: datetime
) -> OperationRecord:
    """The record of `operation`: the request's own, or the step it compensates."""
    if operation == request.operation_id:
        kind, step = request.kind, request.step
    elif operation == request.target_operation_id and request.compensates is not None:
        kind, step = COMPENSATED_KIND[request.kind], request.compensates
    else:
        raise ValueError(f"{operation} is not an operation of this request")
    return OperationRecord(
        operation_id=operation,
        saga_id=request.saga_id,
        step=step,
        kind=kind,
        wallet_id=request.wallet_id,
        amount=request.amount,
        currency=request.currency,
        verdict=verdict,
        outcome=outcome_for(kind, verdict),
        reason=REASONS[verdict],
        recorded_at=now,
    )
