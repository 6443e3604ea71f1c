"""The saga transition tables, row by row, and every pair outside them rejected."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable

import pytest

from payflow_contracts.saga import SagaStep, StepOutcome
from payflow_orchestrator.domain.saga_machine import (
    FailureCode,
    IllegalTransition,
    PublicStatus,
    SagaEvent,
    SagaKind,
    SagaState,
    Transition,
    awaited_step,
    carried_failure_code,
    decide,
    event_for,
    initial_commands,
    initial_state,
    is_compensated,
    is_compensating,
    is_terminal,
    public_status,
    transition_table,
)

S = SagaState
E = SagaEvent
C = SagaStep
F = FailureCode

Row = tuple[SagaState, SagaEvent, SagaState, tuple[SagaStep, ...], FailureCode | None]

# The specification, written out independently of the module so that a change to either shows.
TRANSFER_ROWS: list[Row] = [
    (S.DEBITING_SOURCE, E.DEBITED, S.POSTING_TRANSFER, (C.POST_TRANSFER,), None),
    (S.DEBITING_SOURCE, E.INSUFFICIENT_FUNDS, S.FAILED, (), F.INSUFFICIENT_FUNDS),
    (S.DEBITING_SOURCE, E.SOURCE_UNAVAILABLE, S.FAILED, (), F.SOURCE_UNAVAILABLE),
    (S.DEBITING_SOURCE, E.STEP_TIMED_OUT, S.REFUNDING_SOURCE, (C.REFUND_SOURCE,), F.STEP_TIMEOUT),
    (S.POSTING_TRANSFER, E.POSTED, S.CREDITING_DESTINATION, (C.CREDIT_DESTINATION,), None),
    (
        S.POSTING_TRANSFER,
        E.LEDGER_REJECTED,
        S.REFUNDING_SOURCE,
        (C.REFUND_SOURCE,),
        F.LEDGER_REJECTED,
    ),
    (
        S.POSTING_TRANSFER,
        E.STEP_TIMED_OUT,
        S.REVERSING_POSTING,
        (C.REVERSE_POSTING,),
        F.STEP_TIMEOUT,
    ),
    (S.CREDITING_DESTINATION, E.CREDITED, S.COMPLETED, (), None),
    (
        S.CREDITING_DESTINATION,
        E.DESTINATION_UNAVAILABLE,
        S.REVERSING_POSTING,
        (C.REVERSE_POSTING,),
        F.DESTINATION_UNAVAILABLE,
    ),
    (
        S.CREDITING_DESTINATION,
        E.STEP_TIMED_OUT,
        S.CANCELLING_CREDIT,
        (C.CANCEL_CREDIT,),
        F.STEP_TIMEOUT,
    ),
    (S.CANCELLING_CREDIT, E.CREDIT_CANCELLED, S.REVERSING_POSTING, (C.REVERSE_POSTING,), None),
    (S.CANCELLING_CREDIT, E.CREDIT_ALREADY_APPLIED, S.COMPLETED, (), None),
    (S.REVERSING_POSTING, E.REVERSED, S.REFUNDING_SOURCE, (C.REFUND_SOURCE,), None),
    (S.REVERSING_POSTING, E.POSTING_CANCELLED, S.REFUNDING_SOURCE, (C.REFUND_SOURCE,), None),
    (S.REFUNDING_SOURCE, E.REFUNDED, S.COMPENSATED, (), None),
    (S.REFUNDING_SOURCE, E.DEBIT_CANCELLED, S.FAILED, (), None),
]

TOP_UP_ROWS: list[Row] = [
    (S.POSTING_TOP_UP, E.POSTED, S.CREDITING_DESTINATION, (C.CREDIT_DESTINATION,), None),
    (S.POSTING_TOP_UP, E.LEDGER_REJECTED, S.FAILED, (), F.LEDGER_REJECTED),
    (S.POSTING_TOP_UP, E.STEP_TIMED_OUT, S.REVERSING_POSTING, (C.REVERSE_POSTING,), F.STEP_TIMEOUT),
    (S.CREDITING_DESTINATION, E.CREDITED, S.COMPLETED, (), None),
    (
        S.CREDITING_DESTINATION,
        E.DESTINATION_UNAVAILABLE,
        S.REVERSING_POSTING,
        (C.REVERSE_POSTING,),
        F.DESTINATION_UNAVAILABLE,
    ),
    (
        S.CREDITING_DESTINATION,
        E.STEP_TIMED_OUT,
        S.CANCELLING_CREDIT,
        (C.CANCEL_CREDIT,),
        F.STEP_TIMEOUT,
    ),
    (S.CANCELLING_CREDIT, E.CREDIT_CANCELLED, S.REVERSING_POSTING, (C.REVERSE_POSTING,), None),
    (S.CANCELLING_CREDIT, E.CREDIT_ALREADY_APPLIED, S.COMPLETED, (), None),
    (S.REVERSING_POSTING, E.REVERSED, S.COMPENSATED, (), None),
    (S.REVERSING_POSTING, E.POSTING_CANCELLED, S.FAILED, (), None),
]

SPEC: dict[SagaKind, list[Row]] = {
    SagaKind.TRANSFER: TRANSFER_ROWS,
    SagaKind.REFUND: TRANSFER_ROWS,
    SagaKind.TOP_UP: TOP_UP_ROWS,
}

# What each participant can answer for a step; the awaiting state must handle every one of them.
STEP_ANSWERS: dict[SagaStep, set[SagaEvent]] = {
    C.DEBIT_SOURCE: {E.DEBITED, E.INSUFFICIENT_FUNDS, E.SOURCE_UNAVAILABLE},
    C.POST_TRANSFER: {E.POSTED, E.LEDGER_REJECTED},
    C.POST_TOP_UP: {E.POSTED, E.LEDGER_REJECTED},
    C.CREDIT_DESTINATION: {E.CREDITED, E.DESTINATION_UNAVAILABLE},
    C.CANCEL_CREDIT: {E.CREDIT_CANCELLED, E.CREDIT_ALREADY_APPLIED},
    C.REVERSE_POSTING: {E.REVERSED, E.POSTING_CANCELLED},
    C.REFUND_SOURCE: {E.REFUNDED, E.DEBIT_CANCELLED},
}

TERMINAL = (S.COMPLETED, S.FAILED, S.COMPENSATED)
COMPENSATING = (S.REFUNDING_SOURCE, S.REVERSING_POSTING, S.CANCELLING_CREDIT)


def _row_params(kinds: Iterable[SagaKind]) -> list[object]:
    return [
        pytest.param(kind, *row, id=f"{kind}-{row[0]}-{row[1]}")
        for kind in kinds
        for row in SPEC[kind]
    ]


def _illegal_pairs() -> list[object]:
    return [
        pytest.param(kind, state, event, id=f"{kind}-{state}-{event}")
        for kind in SagaKind
        for state, event in itertools.product(SagaState, SagaEvent)
        if (state, event) not in {(row[0], row[1]) for row in SPEC[kind]}
    ]


Path = tuple[tuple[SagaState, SagaEvent], ...]


def _paths(kind: SagaKind) -> list[Path]:
    """Every (state, reply) sequence from the start to a state with no way out."""
    table = transition_table(kind)

    def extend(state: SagaState, path: Path) -> Iterable[Path]:
        assert state not in {s for s, _e in path}, f"cycle through {state} after {path}"
        outgoing = [(event, t.next_state) for (s, event), t in table.items() if s == state]
        if not outgoing:
            yield path
        for event, next_state in outgoing:
            yield from extend(next_state, (*path, (state, event)))

    return list(extend(initial_state(kind), ()))


def _final_state(kind: SagaKind, path: Path) -> SagaState:
    return _walk(kind, *(event for _state, event in path))[-1]


def _walk(kind: SagaKind, *events: SagaEvent) -> list[SagaState]:
    state = initial_state(kind)
    visited = [state]
    for event in events:
        state = decide(kind, state, event).next_state
        visited.append(state)
    return visited


# ---------------------------------------------------------------- the tables, row by row


@pytest.mark.parametrize(
    ("kind", "state", "event", "next_state", "commands", "failure_code"),
    _row_params(SagaKind),
)
def test_each_specified_reply_moves_the_saga_and_sends_the_next_commands(
    kind: SagaKind,
    state: SagaState,
    event: SagaEvent,
    next_state: SagaState,
    commands: tuple[SagaStep, ...],
    failure_code: FailureCode | None,
) -> None:
    transition = decide(kind, state, event)

    assert transition.next_state == next_state
    assert transition.commands == commands
    assert transition.failure_code == failure_code
    assert transition.reason.strip()


@pytest.mark.parametrize("kind", list(SagaKind))
def test_the_table_holds_exactly_the_specified_rows(kind: SagaKind) -> None:
    table = transition_table(kind)

    assert set(table) == {(row[0], row[1]) for row in SPEC[kind]}


def test_a_refund_runs_the_transfer_table() -> None:
    assert dict(transition_table(SagaKind.REFUND)) == dict(transition_table(SagaKind.TRANSFER))
    assert initial_state(SagaKind.REFUND) == initial_state(SagaKind.TRANSFER)


@pytest.mark.parametrize(("kind", "state", "event"), _illegal_pairs())
def test_a_reply_outside_the_table_is_an_illegal_transition(
    kind: SagaKind, state: SagaState, event: SagaEvent
) -> None:
    with pytest.raises(IllegalTransition) as raised:
        decide(kind, state, event)

    assert (raised.value.kind, raised.value.state, raised.value.event) == (kind, state, event)


def test_an_illegal_transition_names_the_kind_the_state_and_the_reply() -> None:
    with pytest.raises(IllegalTransition, match=r"transfer.*completed.*debited"):
        decide(SagaKind.TRANSFER, S.COMPLETED, E.DEBITED)


@pytest.mark.parametrize("kind", list(SagaKind))
@pytest.mark.parametrize("state", TERMINAL)
def test_a_terminal_saga_accepts_no_reply_at_all(kind: SagaKind, state: SagaState) -> None:
    for event in SagaEvent:
        with pytest.raises(IllegalTransition):
            decide(kind, state, event)


@pytest.mark.parametrize("kind", list(SagaKind))
@pytest.mark.parametrize("state", COMPENSATING)
def test_a_compensation_never_times_out(kind: SagaKind, state: SagaState) -> None:
    with pytest.raises(IllegalTransition):
        decide(kind, state, E.STEP_TIMED_OUT)


@pytest.mark.parametrize("kind", list(SagaKind))
def test_every_forward_step_can_be_given_up_by_the_sweeper(kind: SagaKind) -> None:
    forward = {
        state
        for state, _event in transition_table(kind)
        if not is_compensating(state) and not is_terminal(state)
    }

    assert forward
    for state in forward:
        assert decide(kind, state, E.STEP_TIMED_OUT).failure_code == F.STEP_TIMEOUT


@pytest.mark.parametrize("kind", list(SagaKind))
def test_every_answer_the_awaited_participant_can_give_is_handled(kind: SagaKind) -> None:
    table = transition_table(kind)
    for state in {state for state, _event in table}:
        step = awaited_step(state)
        assert step is not None
        accepted = {event for s, event in table if s == state} - {E.STEP_TIMED_OUT}
        assert accepted == STEP_ANSWERS[step], state


def test_the_transition_table_is_read_only() -> None:
    table = transition_table(SagaKind.TRANSFER)
    with pytest.raises(TypeError):
        table[(S.COMPLETED, E.DEBITED)] = decide(  # type: ignore[index]
            SagaKind.TRANSFER, S.DEBITING_SOURCE, E.DEBITED
        )
    transition = decide(SagaKind.TRANSFER, S.DEBITING_SOURCE, E.DEBITED)
    with pytest.raises(dataclasses.FrozenInstanceError):
        transition.next_state = S.COMPLETED  # type: ignore[misc]


# ---------------------------------------------------------------- events, start, awaited steps


def test_every_participant_outcome_is_an_event_with_the_same_value() -> None:
    for outcome in StepOutcome:
        assert event_for(outcome).value == outcome.value
    assert {e.value for e in SagaEvent} == {o.value for o in StepOutcome} | {"step_timed_out"}


@pytest.mark.parametrize(
    ("kind", "state", "commands"),
    [
        (SagaKind.TRANSFER, S.DEBITING_SOURCE, (C.DEBIT_SOURCE,)),
        (SagaKind.REFUND, S.DEBITING_SOURCE, (C.DEBIT_SOURCE,)),
        (SagaKind.TOP_UP, S.POSTING_TOP_UP, (C.POST_TOP_UP,)),
    ],
)
def test_a_saga_starts_by_sending_its_first_step(
    kind: SagaKind, state: SagaState, commands: tuple[SagaStep, ...]
) -> None:
    assert initial_state(kind) == state
    assert initial_commands(kind) == commands
    assert awaited_step(state) == commands[0]


@pytest.mark.parametrize(
    ("state", "step"),
    [
        (S.DEBITING_SOURCE, C.DEBIT_SOURCE),
        (S.POSTING_TRANSFER, C.POST_TRANSFER),
        (S.POSTING_TOP_UP, C.POST_TOP_UP),
        (S.CREDITING_DESTINATION, C.CREDIT_DESTINATION),
        (S.CANCELLING_CREDIT, C.CANCEL_CREDIT),
        (S.REVERSING_POSTING, C.REVERSE_POSTING),
        (S.REFUNDING_SOURCE, C.REFUND_SOURCE),
        (S.COMPLETED, None),
        (S.FAILED, None),
        (S.COMPENSATED, None),
    ],
)
def test_each_state_awaits_the_reply_of_one_step(state: SagaState, step: SagaStep | None) -> None:
    assert awaited_step(state) == step


@pytest.mark.parametrize("kind", list(SagaKind))
def test_the_command_that_leads_into_a_state_is_the_one_it_awaits(kind: SagaKind) -> None:
    for (_state, _event), transition in transition_table(kind).items():
        step = awaited_step(transition.next_state)
        expected = () if step is None else (step,)
        assert transition.commands == expected


@pytest.mark.parametrize("kind", list(SagaKind))
def test_a_saga_visits_each_state_at_most_once_so_a_reply_for_another_step_is_stale(
    kind: SagaKind,
) -> None:
    # The orchestrator drops replies whose step is not the awaited one; that is only sound
    # if no step can be awaited twice on one path.
    for path in _paths(kind):
        steps = [awaited_step(state) for state, _event in path]
        assert len(steps) == len(set(steps)), path


@pytest.mark.parametrize("kind", list(SagaKind))
def test_every_path_ends_in_a_terminal_state(kind: SagaKind) -> None:
    for path in _paths(kind):
        assert is_terminal(_final_state(kind, path)), path


# ---------------------------------------------------------------- derived status


@pytest.mark.parametrize(
    ("state", "status"),
    [
        (S.DEBITING_SOURCE, PublicStatus.PENDING),
        (S.POSTING_TOP_UP, PublicStatus.PENDING),
        (S.POSTING_TRANSFER, PublicStatus.PROCESSING),
        (S.CREDITING_DESTINATION, PublicStatus.PROCESSING),
        (S.CANCELLING_CREDIT, PublicStatus.PROCESSING),
        (S.REVERSING_POSTING, PublicStatus.PROCESSING),
        (S.REFUNDING_SOURCE, PublicStatus.PROCESSING),
        (S.COMPLETED, PublicStatus.COMPLETED),
        (S.FAILED, PublicStatus.FAILED),
        (S.COMPENSATED, PublicStatus.FAILED),
    ],
)
def test_the_public_status_hides_the_internal_states(
    state: SagaState, status: PublicStatus
) -> None:
    assert public_status(state) == status


@pytest.mark.parametrize("state", list(SagaState))
def test_terminal_compensating_and_compensated_states(state: SagaState) -> None:
    assert is_terminal(state) == (state in TERMINAL)
    assert is_compensating(state) == (state in COMPENSATING)
    assert is_compensated(state) == (state == S.COMPENSATED)
    assert (awaited_step(state) is None) == is_terminal(state)


# ---------------------------------------------------------------- failure code bookkeeping


def test_a_saga_keeps_the_first_failure_code_it_got() -> None:
    timed_out = decide(SagaKind.TRANSFER, S.CREDITING_DESTINATION, E.STEP_TIMED_OUT)
    reversed_ = decide(SagaKind.TRANSFER, S.REVERSING_POSTING, E.REVERSED)

    code = carried_failure_code(None, timed_out)
    code = carried_failure_code(code, reversed_)

    assert code == F.STEP_TIMEOUT
    assert carried_failure_code(F.LEDGER_REJECTED, timed_out) == F.LEDGER_REJECTED


def test_a_timed_out_credit_that_had_landed_completes_without_a_failure_code() -> None:
    already_applied = decide(SagaKind.TRANSFER, S.CANCELLING_CREDIT, E.CREDIT_ALREADY_APPLIED)

    assert carried_failure_code(F.STEP_TIMEOUT, already_applied) is None


def _code_after(kind: SagaKind, *events: SagaEvent) -> FailureCode | None:
    state, code = initial_state(kind), None
    for event in events:
        transition: Transition = decide(kind, state, event)
        state, code = transition.next_state, carried_failure_code(code, transition)
    return code


@pytest.mark.parametrize("kind", list(SagaKind))
def test_a_saga_that_did_not_complete_always_says_why(kind: SagaKind) -> None:
    for path in _paths(kind):
        code = _code_after(kind, *(event for _state, event in path))
        if _final_state(kind, path) == S.COMPLETED:
            assert code is None, path
        else:
            assert code is not None, path


# ---------------------------------------------------------------- stories


def test_a_transfer_debits_posts_and_credits() -> None:
    assert _walk(SagaKind.TRANSFER, E.DEBITED, E.POSTED, E.CREDITED) == [
        S.DEBITING_SOURCE,
        S.POSTING_TRANSFER,
        S.CREDITING_DESTINATION,
        S.COMPLETED,
    ]


def test_insufficient_funds_fails_with_nothing_to_undo() -> None:
    assert _walk(SagaKind.TRANSFER, E.INSUFFICIENT_FUNDS)[-1] == S.FAILED
    assert _code_after(SagaKind.TRANSFER, E.INSUFFICIENT_FUNDS) == F.INSUFFICIENT_FUNDS


def test_ledger_rejection_refunds_the_sender() -> None:
    events = (E.DEBITED, E.LEDGER_REJECTED, E.REFUNDED)

    assert _walk(SagaKind.TRANSFER, *events)[-2:] == [S.REFUNDING_SOURCE, S.COMPENSATED]
    assert _code_after(SagaKind.TRANSFER, *events) == F.LEDGER_REJECTED


def test_credit_refused_reverses_the_posting_then_refunds_the_sender() -> None:
    events = (E.DEBITED, E.POSTED, E.DESTINATION_UNAVAILABLE, E.REVERSED, E.REFUNDED)

    assert _walk(SagaKind.TRANSFER, *events)[3:] == [
        S.REVERSING_POSTING,
        S.REFUNDING_SOURCE,
        S.COMPENSATED,
    ]
    assert _code_after(SagaKind.TRANSFER, *events) == F.DESTINATION_UNAVAILABLE


def test_a_debit_that_timed_out_and_never_happened_fails_with_nothing_moved() -> None:
    events = (E.STEP_TIMED_OUT, E.DEBIT_CANCELLED)

    assert _walk(SagaKind.TRANSFER, *events)[-1] == S.FAILED
    assert _code_after(SagaKind.TRANSFER, *events) == F.STEP_TIMEOUT


def test_a_credit_that_timed_out_is_cancelled_before_the_posting_is_reversed() -> None:
    events = (E.DEBITED, E.POSTED, E.STEP_TIMED_OUT, E.CREDIT_CANCELLED, E.REVERSED, E.REFUNDED)

    assert _walk(SagaKind.TRANSFER, *events)[3:] == [
        S.CANCELLING_CREDIT,
        S.REVERSING_POSTING,
        S.REFUNDING_SOURCE,
        S.COMPENSATED,
    ]


def test_a_top_up_refused_by_the_wallet_reverses_its_posting() -> None:
    events = (E.POSTED, E.DESTINATION_UNAVAILABLE, E.REVERSED)

    assert _walk(SagaKind.TOP_UP, *events)[-2:] == [S.REVERSING_POSTING, S.COMPENSATED]
    assert _code_after(SagaKind.TOP_UP, *events) == F.DESTINATION_UNAVAILABLE


def test_a_top_up_whose_posting_never_happened_fails_with_nothing_moved() -> None:
    events = (E.STEP_TIMED_OUT, E.POSTING_CANCELLED)

    assert _walk(SagaKind.TOP_UP, *events)[-1] == S.FAILED
    assert _code_after(SagaKind.TOP_UP, *events) == F.STEP_TIMEOUT
