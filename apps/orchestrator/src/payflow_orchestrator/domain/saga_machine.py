"""The saga state machine: a pure transition table from (state, participant reply) to the next
state and the commands to send. No IO; the orchestrator persists and publishes what it decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from payflow_contracts.saga import SagaStep, StepOutcome
from payflow_orchestrator.domain.errors import IllegalTransition

__all__ = [
    "FailureCode",
    "IllegalTransition",
    "PublicStatus",
    "SagaEvent",
    "SagaKind",
    "SagaState",
    "Transition",
    "awaited_step",
    "carried_failure_code",
    "decide",
    "event_for",
    "initial_commands",
    "initial_state",
    "is_compensated",
    "is_compensating",
    "is_terminal",
    "public_status",
    "states_for_status",
    "transition_table",
]


class SagaKind(StrEnum):
    TRANSFER = "transfer"
    TOP_UP = "top_up"
    # A refund of a completed transfer runs the transfer table; the caller swaps the wallets.
    REFUND = "refund"


class SagaState(StrEnum):
    DEBITING_SOURCE = "debiting_source"
    POSTING_TRANSFER = "posting_transfer"
    POSTING_TOP_UP = "posting_top_up"
    CREDITING_DESTINATION = "crediting_destination"
    CANCELLING_CREDIT = "cancelling_credit"
    REVERSING_POSTING = "reversing_posting"
    REFUNDING_SOURCE = "refunding_source"
    COMPLETED = "completed"
    FAILED = "failed"
    COMPENSATED = "compensated"


class SagaEvent(StrEnum):
    """A participant's reply (same values as `StepOutcome`), or the sweeper giving up on a step."""

    DEBITED = "debited"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    SOURCE_UNAVAILABLE = "source_unavailable"
    POSTED = "posted"
    LEDGER_REJECTED = "ledger_rejected"
    CREDITED = "credited"
    DESTINATION_UNAVAILABLE = "destination_unavailable"
    REVERSED = "reversed"
    POSTING_CANCELLED = "posting_cancelled"
    REFUNDED = "refunded"
    DEBIT_CANCELLED = "debit_cancelled"
    CREDIT_CANCELLED = "credit_cancelled"
    CREDIT_ALREADY_APPLIED = "credit_already_applied"
    STEP_TIMED_OUT = "step_timed_out"


class FailureCode(StrEnum):
    INSUFFICIENT_FUNDS = "insufficient_funds"
    SOURCE_UNAVAILABLE = "source_unavailable"
    DESTINATION_UNAVAILABLE = "destination_unavailable"
    LEDGER_REJECTED = "ledger_rejected"
    STEP_TIMEOUT = "step_timeout"


class PublicStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True)
class Transition:
    next_state: SagaState
    commands: tuple[SagaStep, ...]
    failure_code: FailureCode | None
    reason: str


def _to(
    next_state: SagaState,
    *commands: SagaStep,
    failure_code: FailureCode | None = None,
    reason: str,
) -> Transition:
    return Transition(next_state, commands, failure_code, reason)


_S = SagaState
_E = SagaEvent
_C = SagaStep
_F = FailureCode

# The tail shared by transfers and top-ups once money sits in the ledger: credit the destination,
# or settle a credit whose reply never came before undoing the posting.
_CREDIT_ROWS: dict[tuple[SagaState, SagaEvent], Transition] = {
    (_S.CREDITING_DESTINATION, _E.CREDITED): _to(_S.COMPLETED, reason="destination credited"),
    (_S.CREDITING_DESTINATION, _E.DESTINATION_UNAVAILABLE): _to(
        _S.REVERSING_POSTING,
        _C.REVERSE_POSTING,
        failure_code=_F.DESTINATION_UNAVAILABLE,
        reason="destination refused the credit; reversing the posting",
    ),
    # The credit may still land after the timeout, so it is settled (cancelled or confirmed)
    # before anything is undone.
    (_S.CREDITING_DESTINATION, _E.STEP_TIMED_OUT): _to(
        _S.CANCELLING_CREDIT,
        _C.CANCEL_CREDIT,
        failure_code=_F.STEP_TIMEOUT,
        reason="credit timed out; cancelling the credit",
    ),
    (_S.CANCELLING_CREDIT, _E.CREDIT_CANCELLED): _to(
        _S.REVERSING_POSTING,
        _C.REVERSE_POSTING,
        reason="credit cancelled; reversing the posting",
    ),
    (_S.CANCELLING_CREDIT, _E.CREDIT_ALREADY_APPLIED): _to(
        _S.COMPLETED, reason="credit had already been applied"
    ),
}

_TRANSFER_TABLE: Mapping[tuple[SagaState, SagaEvent], Transition] = MappingProxyType(
    {
        (_S.DEBITING_SOURCE, _E.DEBITED): _to(
            _S.POSTING_TRANSFER, _C.POST_TRANSFER, reason="source debited"
        ),
        (_S.DEBITING_SOURCE, _E.INSUFFICIENT_FUNDS): _to(
            _S.FAILED,
            failure_code=_F.INSUFFICIENT_FUNDS,
            reason="source has insufficient funds",
        ),
        (_S.DEBITING_SOURCE, _E.SOURCE_UNAVAILABLE): _to(
            _S.FAILED,
            failure_code=_F.SOURCE_UNAVAILABLE,
            reason="source wallet unavailable",
        ),
        # A debit can take effect and still time out: the refund either returns the money or
        # records the debit as cancelled so that a late debit is refused.
        (_S.DEBITING_SOURCE, _E.STEP_TIMED_OUT): _to(
            _S.REFUNDING_SOURCE,
            _C.REFUND_SOURCE,
            failure_code=_F.STEP_TIMEOUT,
            reason="debit timed out; refunding or cancelling the debit",
        ),
        (_S.POSTING_TRANSFER, _E.POSTED): _to(
            _S.CREDITING_DESTINATION,
            _C.CREDIT_DESTINATION,
            reason="transfer posted to the ledger",
        ),
        (_S.POSTING_TRANSFER, _E.LEDGER_REJECTED): _to(
            _S.REFUNDING_SOURCE,
            _C.REFUND_SOURCE,
            failure_code=_F.LEDGER_REJECTED,
            reason="ledger rejected the transfer; refunding the source",
        ),
        (_S.POSTING_TRANSFER, _E.STEP_TIMED_OUT): _to(
            _S.REVERSING_POSTING,
            _C.REVERSE_POSTING,
            failure_code=_F.STEP_TIMEOUT,
            reason="posting timed out; reversing or cancelling the posting",
        ),
        **_CREDIT_ROWS,
        (_S.REVERSING_POSTING, _E.REVERSED): _to(
            _S.REFUNDING_SOURCE,
            _C.REFUND_SOURCE,
            reason="posting reversed; refunding the source",
        ),
        (_S.REVERSING_POSTING, _E.POSTING_CANCELLED): _to(
            _S.REFUNDING_SOURCE,
            _C.REFUND_SOURCE,
            reason="posting cancelled before it happened; refunding the source",
        ),
        (_S.REFUNDING_SOURCE, _E.REFUNDED): _to(_S.COMPENSATED, reason="source refunded"),
        (_S.REFUNDING_SOURCE, _E.DEBIT_CANCELLED): _to(
            _S.FAILED, reason="debit cancelled before it happened; nothing moved"
        ),
    }
)

_TOP_UP_TABLE: Mapping[tuple[SagaState, SagaEvent], Transition] = MappingProxyType(
    {
        (_S.POSTING_TOP_UP, _E.POSTED): _to(
            _S.CREDITING_DESTINATION,
            _C.CREDIT_DESTINATION,
            reason="top-up posted to the ledger",
        ),
        (_S.POSTING_TOP_UP, _E.LEDGER_REJECTED): _to(
            _S.FAILED,
            failure_code=_F.LEDGER_REJECTED,
            reason="ledger rejected the top-up",
        ),
        (_S.POSTING_TOP_UP, _E.STEP_TIMED_OUT): _to(
            _S.REVERSING_POSTING,
            _C.REVERSE_POSTING,
            failure_code=_F.STEP_TIMEOUT,
            reason="top-up posting timed out; reversing or cancelling the posting",
        ),
        **_CREDIT_ROWS,
        (_S.REVERSING_POSTING, _E.REVERSED): _to(_S.COMPENSATED, reason="top-up posting reversed"),
        (_S.REVERSING_POSTING, _E.POSTING_CANCELLED): _to(
            _S.FAILED, reason="top-up posting cancelled before it happened; nothing moved"
        ),
    }
)

_TABLES: Mapping[SagaKind, Mapping[tuple[SagaState, SagaEvent], Transition]] = MappingProxyType(
    {
        SagaKind.TRANSFER: _TRANSFER_TABLE,
        SagaKind.TOP_UP: _TOP_UP_TABLE,
        SagaKind.REFUND: _TRANSFER_TABLE,
    }
)

_INITIAL_STATES: Mapping[SagaKind, SagaState] = MappingProxyType(
    {
        SagaKind.TRANSFER: _S.DEBITING_SOURCE,
        SagaKind.TOP_UP: _S.POSTING_TOP_UP,
        SagaKind.REFUND: _S.DEBITING_SOURCE,
    }
)

_AWAITED_STEPS: Mapping[SagaState, SagaStep] = MappingProxyType(
    {
        _S.DEBITING_SOURCE: _C.DEBIT_SOURCE,
        _S.POSTING_TRANSFER: _C.POST_TRANSFER,
        _S.POSTING_TOP_UP: _C.POST_TOP_UP,
        _S.CREDITING_DESTINATION: _C.CREDIT_DESTINATION,
        _S.CANCELLING_CREDIT: _C.CANCEL_CREDIT,
        _S.REVERSING_POSTING: _C.REVERSE_POSTING,
        _S.REFUNDING_SOURCE: _C.REFUND_SOURCE,
    }
)

_TERMINAL_STATES = frozenset({_S.COMPLETED, _S.FAILED, _S.COMPENSATED})
_COMPENSATING_STATES = frozenset({_S.REFUNDING_SOURCE, _S.REVERSING_POSTING, _S.CANCELLING_CREDIT})
# Nothing has moved yet in these states, so the client sees the transfer as not started.
_PENDING_STATES = frozenset({_S.DEBITING_SOURCE, _S.POSTING_TOP_UP})


def event_for(outcome: StepOutcome) -> SagaEvent:
    return SagaEvent(outcome.value)


def initial_state(kind: SagaKind) -> SagaState:
    return _INITIAL_STATES[kind]


def initial_commands(kind: SagaKind) -> tuple[SagaStep, ...]:
    return (_AWAITED_STEPS[initial_state(kind)],)


def transition_table(kind: SagaKind) -> Mapping[tuple[SagaState, SagaEvent], Transition]:
    return _TABLES[kind]


def decide(kind: SagaKind, state: SagaState, event: SagaEvent) -> Transition:
    try:
        return _TABLES[kind][(state, event)]
    except KeyError:
        raise IllegalTransition(kind, state, event) from None


def awaited_step(state: SagaState) -> SagaStep | None:
    return _AWAITED_STEPS.get(state)


def carried_failure_code(current: FailureCode | None, transition: Transition) -> FailureCode | None:
    """The failure code a saga carries after `transition`: its first one, none once completed."""
    if transition.next_state == SagaState.COMPLETED:
        return None
    return current if current is not None else transition.failure_code


def is_terminal(state: SagaState) -> bool:
    return state in _TERMINAL_STATES


def is_compensating(state: SagaState) -> bool:
    """Compensating steps never time out: the sweeper re-sends them until they succeed."""
    return state in _COMPENSATING_STATES


def is_compensated(state: SagaState) -> bool:
    return state == SagaState.COMPENSATED


def public_status(state: SagaState) -> PublicStatus:
    if state in _PENDING_STATES:
        return PublicStatus.PENDING
    if state == SagaState.COMPLETED:
        return PublicStatus.COMPLETED
    if state in (SagaState.FAILED, SagaState.COMPENSATED):
        return PublicStatus.FAILED
    return PublicStatus.PROCESSING


def states_for_status(status: PublicStatus) -> list[str]:
    """The saga states a public status stands for (the list filter `status=`)."""
    return [s.value for s in SagaState if public_status(s) == status]
