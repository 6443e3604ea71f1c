"""A transfer saga instance and the pure rules for moving it forward: replies, re-sends, time-outs.

The orchestrator loads a `Transfer`, asks these functions for the next version, and writes it back
with a compare-and-set on `version`; only then does it publish what the new version asks for.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from payflow_contracts.saga import SagaStep, StepOutcome
from payflow_contracts.transfers import TransferPublic, TransferView
from payflow_orchestrator.domain.errors import StaleReply
from payflow_orchestrator.domain.reservations import Reservation
from payflow_orchestrator.domain.saga_machine import (
    FailureCode,
    SagaEvent,
    SagaKind,
    SagaState,
    Transition,
    awaited_step,
    carried_failure_code,
    decide,
    event_for,
    initial_state,
    is_compensated,
    is_compensating,
    is_terminal,
    public_status,
)

EventKey = Literal["created", "completed", "failed", "refunded", "link_paid"]
EVENT_KEYS: tuple[EventKey, ...] = ("created", "completed", "failed", "refunded", "link_paid")
"""Domain events a saga may owe; `refunded` is owed by a refund saga that completed (the event is
about the transfer it refunds), `link_paid` by a completed payment of a payment link."""

REFUND_FIELDS = (
    "refund_reserved",
    "refunded_amount",
    "refund_ids",
    "reservations",
    "reservations_open",
)
"""Fields of a transfer that only the refund book writes: the saga's own compare-and-set leaves
them as stored, so a refund reserved meanwhile is never overwritten."""

FAILURE_MESSAGES: dict[FailureCode, str] = {
    FailureCode.INSUFFICIENT_FUNDS: "The source wallet does not hold enough funds.",
    FailureCode.SOURCE_UNAVAILABLE: "The source wallet cannot send money (frozen or closed).",
    FailureCode.DESTINATION_UNAVAILABLE: "The destination wallet cannot receive money (frozen or closed).",
    FailureCode.LEDGER_REJECTED: "The ledger refused the posting.",
    FailureCode.STEP_TIMEOUT: "A step did not answer in time; the transfer was settled safely.",
}


def request_fingerprint(
    kind: SagaKind,
    source_wallet_id: str | None,
    destination_wallet_id: str,
    amount: int,
    currency: str,
    refund_of: str | None,
) -> str:
    """What makes two requests with one idempotency key the same request."""
    parts = (kind.value, source_wallet_id or "", destination_wallet_id, str(amount), currency)
    return "|".join((*parts, refund_of or ""))


@dataclass(frozen=True)
class TimingPolicy:
    step_timeout: timedelta = timedelta(seconds=10)
    forward_max_sends: int = 4
    compensation_backoff_base: timedelta = timedelta(seconds=1)
    compensation_backoff_max: timedelta = timedelta(seconds=60)

    def next_deadline(self, state: SagaState, sends: int, now: datetime) -> datetime:
        if is_compensating(state) and sends > 1:
            # Compensations never give up, but back off so a down participant is not flooded.
            factor = 2 ** min(sends - 1, 16)
            delay: timedelta = min(
                self.compensation_backoff_base * factor, self.compensation_backoff_max
            )
            deadline: datetime = now + max(delay, self.step_timeout)
            return deadline
        return now + self.step_timeout


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    state: SagaState
    at: datetime
    reason: str


FaultMode = Literal["reject", "error", "timeout"]


@dataclass(frozen=True, slots=True)
class StepFault:
    rule_id: str
    mode: FaultMode


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfer:
    """One saga: its state, version, current step bookkeeping and history."""

    id: str
    kind: SagaKind
    initiator_id: str
    idempotency_key: str
    source_wallet_id: str | None
    destination_wallet_id: str
    amount: int
    """Strictly positive."""
    currency: str
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    owner_ids: list[str]
    refund_of: str | None = None
    """For a refund saga: the completed transfer whose money it returns."""
    fee: int = 0
    """The platform's fee out of `amount`: the destination is credited `amount - fee`."""
    payment_link_id: str | None = None
    """For a payment of a payment link: the link."""
    request_fingerprint: str = ""
    state: SagaState
    version: int = 0
    failure_code: FailureCode | None = None
    failure_message: str | None = None
    step_sends: int = 1
    step_started_at: datetime | None = None
    step_deadline: datetime | None = None
    compensation_sends: int = 0
    history: list[HistoryEntry]
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None
    traceparent: str | None = None
    faults: dict[str, StepFault] = field(default_factory=dict)
    events: dict[str, str] = field(default_factory=dict)
    """Domain events owed by this saga: an `EVENT_KEYS` key -> "pending"|"published"."""
    # Refunds of this transfer (written only by the refund book, never by the saga's own
    # compare-and-set: see `domain/refunds.py` and `domain/reservations.py`).
    refund_reserved: int = 0
    """Completed plus in-flight refunds: never more than `amount`."""
    refunded_amount: int = 0
    """Completed refunds."""
    refund_ids: list[str] = field(default_factory=list)
    """Every refund saga started for this transfer, oldest first."""
    reservations: dict[str, Reservation] = field(default_factory=dict)
    """Refunds reserved and not yet settled, by slot."""
    reservations_open: int = 0

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise ValueError("a transfer moves a strictly positive amount")
        if self.fee < 0:
            raise ValueError("a fee is at least 0")

    @property
    def awaited_step(self) -> SagaStep | None:
        return awaited_step(self.state)

    @property
    def net_amount(self) -> int:
        """What the destination receives: the amount less the platform's fee."""
        return self.amount - self.fee

    def answers(self, fingerprint: str) -> bool:
        """True when a repeated request with this saga's key is the request that made it."""
        return not self.request_fingerprint or self.request_fingerprint == fingerprint

    @property
    def is_terminal(self) -> bool:
        return is_terminal(self.state)

    @property
    def trace_id(self) -> str | None:
        if self.traceparent and len(self.traceparent.split("-")) == 4:
            return self.traceparent.split("-")[1]
        return None

    def pending_events(self) -> list[EventKey]:
        return [key for key in EVENT_KEYS if self.events.get(key) == "pending"]

    def fault_for(self, step: SagaStep) -> StepFault | None:
        return self.faults.get(step.value)


def open_transfer(
    *,
    transfer_id: str,
    kind: SagaKind,
    initiator_id: str,
    idempotency_key: str,
    source_wallet_id: str | None,
    destination_wallet_id: str,
    amount: int,
    currency: str,
    description: str | None,
    metadata: dict[str, str],
    owner_ids: list[str],
    now: datetime,
    policy: TimingPolicy,
    traceparent: str | None = None,
    faults: dict[str, StepFault] | None = None,
    refund_of: str | None = None,
    fee: int = 0,
    payment_link_id: str | None = None,
) -> Transfer:
    if not 0 <= fee < amount:
        raise ValueError("a fee is at least 0 and less than the amount")
    state = initial_state(kind)
    return Transfer(
        id=transfer_id,
        kind=kind,
        initiator_id=initiator_id,
        idempotency_key=idempotency_key,
        source_wallet_id=source_wallet_id,
        destination_wallet_id=destination_wallet_id,
        amount=amount,
        currency=currency,
        description=description,
        metadata=dict(metadata),
        owner_ids=sorted(set(owner_ids)),
        refund_of=refund_of,
        fee=fee,
        payment_link_id=payment_link_id,
        request_fingerprint=request_fingerprint(
            kind, source_wallet_id, destination_wallet_id, amount, currency, refund_of
        ),
        state=state,
        step_sends=1,
        step_started_at=now,
        step_deadline=policy.next_deadline(state, 1, now),
        history=[
            HistoryEntry(state=state, at=now, reason=f"{kind.value.replace('_', '-')} accepted")
        ],
        created_at=now,
        updated_at=now,
        traceparent=traceparent,
        faults=dict(faults) if faults else {},
        events={"created": "pending"},
    )


def _advance(
    transfer: Transfer,
    transition: Transition,
    now: datetime,
    policy: TimingPolicy,
    detail: str | None,
) -> Transfer:
    next_state = transition.next_state
    failure_code = carried_failure_code(transfer.failure_code, transition)
    failure_message = transfer.failure_message
    if failure_code is None:
        failure_message = None
    elif failure_code != transfer.failure_code:
        failure_message = detail or FAILURE_MESSAGES[failure_code]
    reason = transition.reason if not detail else f"{transition.reason} ({detail})"
    terminal = is_terminal(next_state)
    events = dict(transfer.events)
    if terminal:
        events["completed" if next_state == SagaState.COMPLETED else "failed"] = "pending"
        if next_state == SagaState.COMPLETED and transfer.kind == SagaKind.REFUND:
            events["refunded"] = "pending"
        if next_state == SagaState.COMPLETED and transfer.payment_link_id is not None:
            events["link_paid"] = "pending"
    compensation_sends = transfer.compensation_sends + (1 if is_compensating(next_state) else 0)
    return replace(
        transfer,
        state=next_state,
        version=transfer.version + 1,
        failure_code=failure_code,
        failure_message=failure_message,
        step_sends=0 if terminal else 1,
        step_started_at=None if terminal else now,
        step_deadline=None if terminal else policy.next_deadline(next_state, 1, now),
        compensation_sends=compensation_sends,
        history=[*transfer.history, HistoryEntry(state=next_state, at=now, reason=reason)],
        updated_at=now,
        completed_at=now if terminal else None,
        events=events,
    )


def apply_reply(
    transfer: Transfer,
    step: SagaStep,
    outcome: StepOutcome,
    now: datetime,
    policy: TimingPolicy,
    detail: str | None = None,
) -> tuple[Transfer, Transition]:
    """The saga after a participant's reply; `StaleReply` if it waits for another step."""
    if transfer.is_terminal or transfer.awaited_step != step:
        raise StaleReply(f"{transfer.id} in {transfer.state} does not await {step}")
    transition = decide(transfer.kind, transfer.state, event_for(outcome))
    return _advance(transfer, transition, now, policy, detail), transition


@dataclass(frozen=True)
class Resend:
    step: SagaStep
    attempt: int


@dataclass(frozen=True)
class GiveUp:
    step: SagaStep


def due_action(transfer: Transfer, now: datetime, policy: TimingPolicy) -> Resend | GiveUp | None:
    """What the sweeper owes a saga whose step deadline has passed."""
    step = transfer.awaited_step
    if step is None or transfer.step_deadline is None or transfer.step_deadline > now:
        return None
    if is_compensating(transfer.state) or transfer.step_sends < policy.forward_max_sends:
        return Resend(step, transfer.step_sends + 1)
    return GiveUp(step)


RESEND_NOTE = "no reply yet: "


def _without_last_resend(history: list[HistoryEntry], state: SagaState) -> list[HistoryEntry]:
    """The history without its last entry when that one is a re-send note of the same state:
    a compensation re-sent for days keeps one line saying how many attempts, not thousands."""
    if history and history[-1].state == state and history[-1].reason.startswith(RESEND_NOTE):
        return history[:-1]
    return list(history)


def apply_resend(transfer: Transfer, now: datetime, policy: TimingPolicy) -> Transfer:
    step = transfer.awaited_step
    if step is None:
        raise StaleReply(f"{transfer.id} is terminal")
    sends = transfer.step_sends + 1
    compensating = is_compensating(transfer.state)
    return replace(
        transfer,
        version=transfer.version + 1,
        step_sends=sends,
        step_deadline=policy.next_deadline(transfer.state, sends, now),
        compensation_sends=transfer.compensation_sends + (1 if compensating else 0),
        history=[
            *_without_last_resend(transfer.history, transfer.state),
            HistoryEntry(
                state=transfer.state,
                at=now,
                reason=f"{RESEND_NOTE}{step.value} re-sent (attempt {sends})",
            ),
        ],
        updated_at=now,
    )


def apply_timeout(
    transfer: Transfer, now: datetime, policy: TimingPolicy
) -> tuple[Transfer, Transition]:
    """Abandon a forward step that never answered; the table says how to settle it safely."""
    transition = decide(transfer.kind, transfer.state, SagaEvent.STEP_TIMED_OUT)
    step = transfer.awaited_step
    detail = f"{step.value if step else 'step'} unanswered after {transfer.step_sends} sends"
    return _advance(transfer, transition, now, policy, detail), transition


def mark_event_published(transfer: Transfer, key: EventKey) -> Transfer:
    if transfer.events.get(key) == "published":
        return transfer  # nothing to change (a saga is immutable: no copy needed)
    return replace(transfer, events={**transfer.events, key: "published"})


def _resource_fields(transfer: Transfer) -> dict[str, Any]:
    return {
        "id": transfer.id,
        "kind": transfer.kind.value,
        "status": public_status(transfer.state).value,
        "state": transfer.state.value,
        "amount": transfer.amount,
        "fee": transfer.fee,
        "net_amount": transfer.net_amount,
        "currency": transfer.currency,
        "source_wallet_id": transfer.source_wallet_id,
        "destination_wallet_id": transfer.destination_wallet_id,
        "description": transfer.description,
        "metadata": dict(transfer.metadata),
        "failure_code": transfer.failure_code.value if transfer.failure_code else None,
        "failure_message": transfer.failure_message,
        "compensated": is_compensated(transfer.state),
        "created_at": transfer.created_at,
        "updated_at": transfer.updated_at,
        "completed_at": transfer.completed_at,
        "history": [
            {"state": h.state.value, "at": h.at, "reason": h.reason} for h in transfer.history
        ],
        "trace_id": transfer.trace_id,
        "refund_of": transfer.refund_of,
        "payment_link_id": transfer.payment_link_id,
        "refunded_amount": transfer.refunded_amount,
        "refunds": list(transfer.refund_ids),
    }


def public_view(transfer: Transfer) -> TransferPublic:
    """The transfer resource of the public API (`GET /v1/transfers/{id}`), of the live channel
    and of the domain events."""
    return TransferPublic.model_validate(_resource_fields(transfer))


def internal_view(transfer: Transfer) -> TransferView:
    """The resource with whom it concerns, as the orchestrator's internal API answers it."""
    return TransferView.model_validate(
        {
            **_resource_fields(transfer),
            "owner_ids": transfer.owner_ids,
            "initiator_id": transfer.initiator_id,
        }
    )
