"""How a saga operation on a wallet is decided: from the wallet as read and what is already
recorded, to the verdict and the one guarded single-document write that makes it true.

A decision is only valid while the facts it was made on still hold, so each carries a `Guard`
that the store checks atomically with the write: the absence of the marks it sets, the balance
and status conditions the verdict depends on, and that no mark it might have needed to see was
pruned since it was read. A write whose guard fails changes nothing, and the caller reads
again and decides again.

Whether the wallet alone can say that an operation was never decided, or the operation records
must be read too, is `needs_records`: marks leave the wallet only through the pruner, which
writes their records first and raises the wallet's `pruned_through_ms` to the latest issue
time among them. An operation issued later than that cannot have a pruned mark, so the wallet
alone decides it, guarded by that same comparison (`Guard.pruned_before`); an older one (or
one whose issue time is unknown) reads the records after the wallet, guarded by the marks
epoch that every prune bumps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from payflow_contracts.saga import SagaStep, StepOutcome, operation_id
from payflow_wallet.domain.wallet import Mark, Verdict, Wallet, WalletStatus
from payflow_wallet.domain.wallet import OperationKind as OperationKind  # its home for callers

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
    issued_ms: int | None = None
    """When the saga began (`Mark.issued_ms`), as the command said; None if it did not."""

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
    """What must still be true of the wallet when the decision is written.

    Exactly one of `marks_epoch` (no prune since the wallet and then the records were read)
    and `pruned_before` (no mark issued at or after this time was ever pruned) is set.
    """

    marks_epoch: int | None
    absent_marks: tuple[str, ...]
    statuses: frozenset[WalletStatus] | None = None
    balance_at_least: int | None = None
    balance_below: int | None = None
    pruned_before: int | None = None

    def __post_init__(self) -> None:
        if (self.marks_epoch is None) == (self.pruned_before is None):
            raise ValueError("a guard holds either the marks epoch or the pruned-before time")

    def holds(self, wallet: Wallet) -> bool:
        if self.marks_epoch is not None and wallet.marks_epoch != self.marks_epoch:
            return False
        if self.pruned_before is not None and (
            wallet.pruned_through_ms is None or wallet.pruned_through_ms >= self.pruned_before
        ):
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
    marks: Mapping[str, Mark]


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


def needs_records(request: OperationRequest, wallet: Wallet | None) -> bool:
    """Whether the operation records must be read to decide `request`: False only when the
    request was issued after every mark ever pruned from the wallet, so that its marks alone
    say whether the operation (and the step it compensates, of the same saga) was decided."""
    return (
        wallet is None
        or request.issued_ms is None
        or wallet.pruned_through_ms is None
        or wallet.pruned_through_ms >= request.issued_ms
    )


def decide(
    request: OperationRequest,
    wallet: Wallet | None,
    recorded: Mapping[str, Verdict],
    now: datetime,
) -> Decision:
    """Decide `request` on `wallet` (None when it does not exist), at `now`.

    `recorded` holds the verdicts already in the operation records for the request's operation
    and the step it compensates; the wallet's marks hold those not yet recorded (or not yet
    pruned). When `needs_records` says so, the wallet must have been read before the records
    (see the module docstring of `payflow_wallet.wallet_operations` for why the order
    matters); otherwise `recorded` is not needed and the decision's guard says why.
    """
    op = request.operation_id
    known = recorded.get(op) or (wallet.verdict_of(op) if wallet else None)
    if known is not None:
        return Settled(known)
    match request.kind:
        case OperationKind.DEBIT:
            plan = _decide_debit(request, wallet)
        case OperationKind.CREDIT:
            plan = _decide_credit(request, wallet)
        case OperationKind.REFUND | OperationKind.CANCEL_CREDIT:
            plan = _decide_compensation(request, wallet, recorded)
    if isinstance(plan, RecordOnly):
        return plan
    assert wallet is not None
    marks = {o: mark_of(request, o, v, now) for o, v in plan.verdicts.items()}
    return Decide(plan.verdict, WalletChange(plan.balance_delta, marks), plan.guard(wallet))


def mark_of(request: OperationRequest, operation: str, verdict: Verdict, now: datetime) -> Mark:
    """The mark of `operation` (the request's own, or the step it compensates)."""
    if operation == request.operation_id:
        kind = request.kind
    elif operation == request.target_operation_id:
        kind = COMPENSATED_KIND[request.kind]
    else:
        raise ValueError(f"{operation} is not an operation of this request")
    return Mark(
        verdict=verdict,
        kind=kind,
        amount=request.amount,
        currency=request.currency,
        issued_ms=request.issued_ms,
        decided_at=now,
    )


@dataclass(frozen=True)
class _Plan:
    """A decision before it is dated and guarded: the verdict, the money it moves, the
    verdicts it marks, and the conditions its guard must add."""

    request: OperationRequest
    verdict: Verdict
    balance_delta: int
    verdicts: Mapping[str, Verdict]
    statuses: frozenset[WalletStatus] | None = None
    balance_at_least: int | None = None
    balance_below: int | None = None

    def guard(self, wallet: Wallet) -> Guard:
        fresh = not needs_records(self.request, wallet)
        return Guard(
            None if fresh else wallet.marks_epoch,
            # The request's own operation first, then the step it settles (if it marks it).
            tuple(sorted(self.verdicts, key=lambda o: o != self.request.operation_id)),
            statuses=self.statuses,
            balance_at_least=self.balance_at_least,
            balance_below=self.balance_below,
            pruned_before=self.request.issued_ms if fresh else None,
        )


def _reject(
    request: OperationRequest,
    verdict: Verdict,
    *,
    statuses: frozenset[WalletStatus] | None = None,
    balance_below: int | None = None,
) -> _Plan:
    """A verdict that moves no money, guarded by the facts it rests on."""
    return _Plan(
        request,
        verdict,
        0,
        {request.operation_id: verdict},
        statuses=statuses,
        balance_below=balance_below,
    )


def _unavailable(request: OperationRequest, wallet: Wallet) -> _Plan | None:
    """The rejections a debit and a credit share: a sandbox fault, currency, status."""
    if request.fault_reject:
        return _reject(request, Verdict.FAULT_REJECTED)
    if wallet.currency != request.currency:
        return _reject(request, Verdict.CURRENCY_MISMATCH)
    if wallet.status is WalletStatus.FROZEN:
        return _reject(request, Verdict.WALLET_FROZEN, statuses=frozenset({WalletStatus.FROZEN}))
    if wallet.status is WalletStatus.CLOSED:
        return _reject(request, Verdict.WALLET_CLOSED, statuses=frozenset({WalletStatus.CLOSED}))
    return None


ACTIVE_ONLY = frozenset({WalletStatus.ACTIVE})


def _decide_debit(request: OperationRequest, wallet: Wallet | None) -> _Plan | RecordOnly:
    if wallet is None:
        return RecordOnly(((request.operation_id, Verdict.WALLET_MISSING),))
    refused = _unavailable(request, wallet)
    if refused is not None:
        return refused
    if wallet.balance < request.amount:
        return _reject(request, Verdict.INSUFFICIENT_FUNDS, balance_below=request.amount)
    return _Plan(
        request,
        Verdict.DEBITED,
        -request.amount,
        {request.operation_id: Verdict.DEBITED},
        # The balance guard is what keeps every balance >= 0 under any concurrency.
        statuses=ACTIVE_ONLY,
        balance_at_least=request.amount,
    )


def _decide_credit(request: OperationRequest, wallet: Wallet | None) -> _Plan | RecordOnly:
    if wallet is None:
        return RecordOnly(((request.operation_id, Verdict.WALLET_MISSING),))
    refused = _unavailable(request, wallet)
    if refused is not None:
        return refused
    return _Plan(
        request,
        Verdict.CREDITED,
        request.amount,
        {request.operation_id: Verdict.CREDITED},
        statuses=ACTIVE_ONLY,
    )


_APPLIED = {OperationKind.REFUND: Verdict.DEBITED, OperationKind.CANCEL_CREDIT: Verdict.CREDITED}
_NOT_APPLIED = {
    OperationKind.REFUND: Verdict.DEBIT_CANCELLED,
    OperationKind.CANCEL_CREDIT: Verdict.CREDIT_CANCELLED,
}


def _decide_compensation(
    request: OperationRequest, wallet: Wallet | None, recorded: Mapping[str, Verdict]
) -> _Plan | RecordOnly:
    op = request.operation_id
    target = request.target_operation_id
    assert target is not None
    target_verdict = recorded.get(target) or (wallet.verdict_of(target) if wallet else None)
    not_applied = _NOT_APPLIED[request.kind]
    if target_verdict is None:
        # The step never arrived (yet): settle it as cancelled in the same write, so that
        # when it does arrive it finds its verdict and moves nothing (guarantee 6).
        if wallet is None:
            return RecordOnly(((target, Verdict.CANCELLED), (op, not_applied)))
        return _Plan(request, not_applied, 0, {target: Verdict.CANCELLED, op: not_applied})
    if target_verdict is not _APPLIED[request.kind]:
        # The step was refused or cancelled: nothing moved, so there is nothing to undo.
        if wallet is None:
            return RecordOnly(((op, not_applied),))
        return _reject(request, not_applied)
    if wallet is None:
        raise ValueError(f"{target} took effect on a wallet that does not exist")
    if request.kind is OperationKind.CANCEL_CREDIT:
        return _reject(request, Verdict.CREDIT_ALREADY_APPLIED)
    # A refund returns the money whatever the wallet's status: a compensation never fails.
    return _Plan(request, Verdict.REFUNDED, request.amount, {op: Verdict.REFUNDED})


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


def record_from_mark(wallet_id: str, operation: str, mark: Mark) -> OperationRecord:
    """The permanent record a mark stands for (`Mark.carries_record` must hold)."""
    if not mark.carries_record:
        raise ValueError(f"the mark of {operation} does not carry its record")
    assert mark.kind is not None and mark.amount is not None and mark.currency is not None
    assert mark.decided_at is not None
    saga_id, step = operation.rsplit(":", 1)
    return OperationRecord(
        operation_id=operation,
        saga_id=saga_id,
        step=SagaStep(step),
        kind=mark.kind,
        wallet_id=wallet_id,
        amount=mark.amount,
        currency=mark.currency,
        verdict=mark.verdict,
        outcome=outcome_for(mark.kind, mark.verdict),
        reason=REASONS[mark.verdict],
        recorded_at=mark.decided_at,
    )


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
