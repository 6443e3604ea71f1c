"""The wallet's decisions as pure functions: verdicts, guards, and what a repeat answers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from payflow_contracts.saga import SagaStep, StepOutcome
from payflow_wallet.domain.operations import (
    REFUSALS,
    Decide,
    Decision,
    Guard,
    OperationKind,
    OperationRequest,
    RecordOnly,
    Settled,
    WalletChange,
    needs_records,
    outcome_for,
    record_from_mark,
    record_of,
)
from payflow_wallet.domain.operations import decide as decide_at
from payflow_wallet.domain.wallet import Mark, Verdict, Wallet, WalletStatus, open_wallet

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DEBIT_OP = "tr_1:debit_source"
CREDIT_OP = "tr_1:credit_destination"
REFUND_OP = "tr_1:refund_source"
CANCEL_OP = "tr_1:cancel_credit"


def decide(
    request: OperationRequest, wallet: Wallet | None, recorded: dict[str, Verdict]
) -> Decision:
    return decide_at(request, wallet, recorded, T0)


def verdicts_of(change: WalletChange) -> dict[str, Verdict]:
    return {op: mark.verdict for op, mark in change.marks.items()}


def a_wallet(
    balance: int = 500, status: WalletStatus = WalletStatus.ACTIVE, **kw: object
) -> Wallet:
    return replace(open_wallet("wal_1", "usr_1", "USD", T0), balance=balance, status=status, **kw)  # type: ignore[arg-type]


def debit(amount: int = 100, **kw: object) -> OperationRequest:
    return OperationRequest(
        kind=OperationKind.DEBIT,
        saga_id="tr_1",
        step=SagaStep.DEBIT_SOURCE,
        wallet_id="wal_1",
        amount=amount,
        currency="USD",
        **kw,  # type: ignore[arg-type]
    )


def credit(amount: int = 100, **kw: object) -> OperationRequest:
    return OperationRequest(
        kind=OperationKind.CREDIT,
        saga_id="tr_1",
        step=SagaStep.CREDIT_DESTINATION,
        wallet_id="wal_1",
        amount=amount,
        currency="USD",
        **kw,  # type: ignore[arg-type]
    )


def refund(amount: int = 100, **kw: object) -> OperationRequest:
    return OperationRequest(
        kind=OperationKind.REFUND,
        saga_id="tr_1",
        step=SagaStep.REFUND_SOURCE,
        wallet_id="wal_1",
        amount=amount,
        currency="USD",
        compensates=SagaStep.DEBIT_SOURCE,
        **kw,  # type: ignore[arg-type]
    )


def cancel_credit(amount: int = 100) -> OperationRequest:
    return OperationRequest(
        kind=OperationKind.CANCEL_CREDIT,
        saga_id="tr_1",
        step=SagaStep.CANCEL_CREDIT,
        wallet_id="wal_1",
        amount=amount,
        currency="USD",
        compensates=SagaStep.CREDIT_DESTINATION,
    )


def test_a_debit_within_the_balance_takes_it_guarded_by_that_balance() -> None:
    decision = decide(debit(100), a_wallet(500, marks_epoch=3), {})
    assert isinstance(decision, Decide)
    assert decision.verdict is Verdict.DEBITED
    assert decision.change.balance_delta == -100
    assert verdicts_of(decision.change) == {DEBIT_OP: Verdict.DEBITED}
    assert decision.guard == Guard(
        3, (DEBIT_OP,), statuses=frozenset({WalletStatus.ACTIVE}), balance_at_least=100
    )


def test_a_debit_of_the_whole_balance_is_allowed_and_one_cent_more_is_not() -> None:
    assert decide(debit(500), a_wallet(500), {}).verdict is Verdict.DEBITED  # type: ignore[union-attr]
    refused = decide(debit(501), a_wallet(500), {})
    assert isinstance(refused, Decide)
    assert refused.verdict is Verdict.INSUFFICIENT_FUNDS
    assert refused.change.balance_delta == 0
    # The refusal stands only while the balance is still too low.
    assert refused.guard.balance_below == 501


@pytest.mark.parametrize(
    ("status", "verdict"),
    [(WalletStatus.FROZEN, Verdict.WALLET_FROZEN), (WalletStatus.CLOSED, Verdict.WALLET_CLOSED)],
)
def test_a_frozen_or_closed_wallet_neither_sends_nor_receives(
    status: WalletStatus, verdict: Verdict
) -> None:
    for request in (debit(), credit()):
        decision = decide(request, a_wallet(status=status), {})
        assert isinstance(decision, Decide)
        assert decision.verdict is verdict
        assert decision.change.balance_delta == 0
        assert decision.guard.statuses == frozenset({status})
    assert outcome_for(OperationKind.DEBIT, verdict) is StepOutcome.SOURCE_UNAVAILABLE
    assert outcome_for(OperationKind.CREDIT, verdict) is StepOutcome.DESTINATION_UNAVAILABLE


def test_an_operation_on_a_missing_wallet_is_settled_by_its_record_alone() -> None:
    assert decide(debit(), None, {}) == RecordOnly(((DEBIT_OP, Verdict.WALLET_MISSING),))
    assert decide(credit(), None, {}) == RecordOnly(((CREDIT_OP, Verdict.WALLET_MISSING),))


def test_a_wallet_in_another_currency_refuses_the_operation() -> None:
    decision = decide(debit(), replace(a_wallet(), currency="EUR"), {})
    assert decision.verdict is Verdict.CURRENCY_MISMATCH  # type: ignore[union-attr]


def test_a_sandbox_reject_refuses_a_debit_that_funds_would_allow() -> None:
    decision = decide(debit(fault_reject=True), a_wallet(10_000), {})
    assert isinstance(decision, Decide)
    assert decision.verdict is Verdict.FAULT_REJECTED
    assert decision.change.balance_delta == 0
    assert (
        outcome_for(OperationKind.DEBIT, Verdict.FAULT_REJECTED) is StepOutcome.SOURCE_UNAVAILABLE
    )


def test_a_repeated_operation_replays_its_verdict_from_the_record_or_the_mark() -> None:
    assert decide(debit(), a_wallet(0), {DEBIT_OP: Verdict.DEBITED}) == Settled(Verdict.DEBITED)
    marked = a_wallet(0, marks={DEBIT_OP: Mark(Verdict.DEBITED)})
    assert decide(debit(), marked, {}) == Settled(Verdict.DEBITED)


def test_a_refund_before_its_debit_cancels_the_debit_in_the_same_write() -> None:
    decision = decide(refund(), a_wallet(500, marks_epoch=7), {})
    assert isinstance(decision, Decide)
    assert decision.verdict is Verdict.DEBIT_CANCELLED
    assert decision.change.balance_delta == 0
    assert verdicts_of(decision.change) == {
        DEBIT_OP: Verdict.CANCELLED,
        REFUND_OP: Verdict.DEBIT_CANCELLED,
    }
    # Neither the refund nor the debit may have been decided meanwhile.
    assert decision.guard == Guard(7, (REFUND_OP, DEBIT_OP))


def test_the_late_debit_after_its_refund_is_refused_as_source_unavailable() -> None:
    tombstoned = a_wallet(500, marks={DEBIT_OP: Mark(Verdict.CANCELLED)})
    assert decide(debit(), tombstoned, {}) == Settled(Verdict.CANCELLED)
    assert decide(debit(), a_wallet(500), {DEBIT_OP: Verdict.CANCELLED}) == Settled(
        Verdict.CANCELLED
    )
    assert outcome_for(OperationKind.DEBIT, Verdict.CANCELLED) is StepOutcome.SOURCE_UNAVAILABLE


def test_a_refund_after_the_debit_returns_the_money_even_into_a_frozen_or_closed_wallet() -> None:
    for status in WalletStatus:
        decision = decide(refund(100), a_wallet(0, status=status), {DEBIT_OP: Verdict.DEBITED})
        assert isinstance(decision, Decide)
        assert decision.verdict is Verdict.REFUNDED
        assert decision.change.balance_delta == 100
        assert decision.guard.statuses is None


def test_a_refund_after_a_refused_debit_moves_nothing() -> None:
    for verdict in (Verdict.INSUFFICIENT_FUNDS, Verdict.WALLET_FROZEN, Verdict.FAULT_REJECTED):
        decision = decide(refund(), a_wallet(), {DEBIT_OP: verdict})
        assert isinstance(decision, Decide)
        assert decision.verdict is Verdict.DEBIT_CANCELLED
        assert decision.change.balance_delta == 0
        assert verdicts_of(decision.change) == {REFUND_OP: Verdict.DEBIT_CANCELLED}


def test_a_refund_on_a_missing_wallet_records_the_debit_as_cancelled_first() -> None:
    assert decide(refund(), None, {}) == RecordOnly(
        ((DEBIT_OP, Verdict.CANCELLED), (REFUND_OP, Verdict.DEBIT_CANCELLED))
    )
    assert decide(refund(), None, {DEBIT_OP: Verdict.WALLET_MISSING}) == RecordOnly(
        ((REFUND_OP, Verdict.DEBIT_CANCELLED),)
    )


def test_cancel_credit_before_the_credit_cancels_it_and_after_it_reports_it_applied() -> None:
    before = decide(cancel_credit(), a_wallet(), {})
    assert isinstance(before, Decide)
    assert before.verdict is Verdict.CREDIT_CANCELLED
    assert verdicts_of(before.change) == {
        CREDIT_OP: Verdict.CANCELLED,
        CANCEL_OP: Verdict.CREDIT_CANCELLED,
    }
    after = decide(cancel_credit(), a_wallet(), {CREDIT_OP: Verdict.CREDITED})
    assert isinstance(after, Decide)
    assert after.verdict is Verdict.CREDIT_ALREADY_APPLIED
    assert after.change.balance_delta == 0
    refused = decide(cancel_credit(), a_wallet(), {CREDIT_OP: Verdict.WALLET_FROZEN})
    assert refused.verdict is Verdict.CREDIT_CANCELLED  # type: ignore[union-attr]
    late = decide(credit(), a_wallet(marks={CREDIT_OP: Mark(Verdict.CANCELLED)}), {})
    assert late == Settled(Verdict.CANCELLED)
    assert (
        outcome_for(OperationKind.CREDIT, Verdict.CANCELLED) is StepOutcome.DESTINATION_UNAVAILABLE
    )


def test_a_credit_into_an_active_wallet_adds_the_amount() -> None:
    decision = decide(credit(250), a_wallet(0), {})
    assert isinstance(decision, Decide)
    assert decision.verdict is Verdict.CREDITED
    assert decision.change.balance_delta == 250
    assert decision.guard.statuses == frozenset({WalletStatus.ACTIVE})


def test_a_guard_fails_on_a_moved_epoch_a_present_mark_a_status_or_a_balance() -> None:
    wallet = a_wallet(100, marks_epoch=2)
    assert Guard(2, (DEBIT_OP,), frozenset({WalletStatus.ACTIVE}), 100, 101).holds(wallet)
    assert not Guard(1, ()).holds(wallet)
    assert not Guard(2, (DEBIT_OP,)).holds(replace(wallet, marks={DEBIT_OP: Mark(Verdict.DEBITED)}))
    assert not Guard(2, (), statuses=frozenset({WalletStatus.FROZEN})).holds(wallet)
    assert not Guard(2, (), balance_at_least=101).holds(wallet)
    assert not Guard(2, (), balance_below=100).holds(wallet)


def test_every_verdict_a_decision_can_reach_has_an_outcome_for_its_kind() -> None:
    wallets = [None, a_wallet(0), a_wallet(1000)] + [a_wallet(status=s) for s in WalletStatus]
    histories: list[dict[str, Verdict]] = [
        {},
        *({DEBIT_OP: v} for v in (Verdict.DEBITED, Verdict.INSUFFICIENT_FUNDS, *REFUSALS)),
        *({CREDIT_OP: v} for v in (Verdict.CREDITED, *REFUSALS)),
    ]
    for request in (debit(), credit(), refund(), cancel_credit(), debit(fault_reject=True)):
        for wallet in wallets:
            for recorded in histories:
                applied = {Verdict.DEBITED, Verdict.CREDITED} & set(recorded.values())
                if wallet is None and applied:
                    continue  # wallets are never deleted: see the test below
                decision = decide(request, wallet, recorded)
                if isinstance(decision, RecordOnly):
                    for op, verdict in decision.verdicts:
                        assert record_of(request, op, verdict, T0).outcome
                else:
                    assert record_of(request, request.operation_id, decision.verdict, T0).outcome


def test_a_step_that_took_effect_on_a_wallet_that_does_not_exist_is_refused_loudly() -> None:
    with pytest.raises(ValueError, match="does not exist"):
        decide(refund(), None, {DEBIT_OP: Verdict.DEBITED})


def test_a_verdict_of_another_kind_has_no_outcome() -> None:
    with pytest.raises(ValueError, match="not a verdict"):
        outcome_for(OperationKind.REFUND, Verdict.CREDITED)


def test_a_compensation_must_name_the_step_it_settles() -> None:
    with pytest.raises(ValueError, match="compensates"):
        OperationRequest(
            kind=OperationKind.REFUND,
            saga_id="tr_1",
            step=SagaStep.REFUND_SOURCE,
            wallet_id="wal_1",
            amount=1,
            currency="USD",
        )


def test_the_record_of_a_tombstone_belongs_to_the_cancelled_step() -> None:
    record = record_of(refund(), DEBIT_OP, Verdict.CANCELLED, T0)
    assert (record.step, record.kind, record.outcome) == (
        SagaStep.DEBIT_SOURCE,
        OperationKind.DEBIT,
        StepOutcome.SOURCE_UNAVAILABLE,
    )
    assert record.reason is not None and "cancelled" in record.reason


# ------------------------------------------------ deciding from the wallet alone


def test_only_an_operation_issued_after_everything_pruned_is_decided_without_the_records() -> None:
    wallet = a_wallet(pruned_through_ms=5_000)
    assert not needs_records(debit(issued_ms=5_001), wallet)
    assert needs_records(debit(issued_ms=5_000), wallet)  # a mark issued then may be pruned
    assert needs_records(debit(issued_ms=4_000), wallet)
    assert needs_records(debit(), wallet)  # the command did not say when its saga began
    assert needs_records(debit(issued_ms=5_001), a_wallet(pruned_through_ms=None))  # unknown
    assert needs_records(debit(issued_ms=5_001), None)


def test_a_fresh_decision_is_guarded_by_the_issue_time_not_the_epoch() -> None:
    decision = decide(debit(100, issued_ms=9_000), a_wallet(500, marks_epoch=3), {})
    assert isinstance(decision, Decide)
    assert decision.guard == Guard(
        None,
        (DEBIT_OP,),
        statuses=frozenset({WalletStatus.ACTIVE}),
        balance_at_least=100,
        pruned_before=9_000,
    )
    assert decision.guard.holds(a_wallet(500, marks_epoch=4, pruned_through_ms=8_999))
    assert not decision.guard.holds(a_wallet(500, pruned_through_ms=9_000))
    assert not decision.guard.holds(a_wallet(500, pruned_through_ms=None))
    # One that needs the records keeps the epoch guard.
    older = decide(
        debit(100, issued_ms=9_000), a_wallet(500, marks_epoch=3, pruned_through_ms=9_000), {}
    )
    assert isinstance(older, Decide)
    assert older.guard.marks_epoch == 3 and older.guard.pruned_before is None


def test_a_guard_names_exactly_one_of_the_epoch_and_the_issue_time() -> None:
    with pytest.raises(ValueError, match="either"):
        Guard(None, ())
    with pytest.raises(ValueError, match="either"):
        Guard(1, (), pruned_before=5)


def test_a_mark_carries_its_record_and_replays_it() -> None:
    decision = decide(debit(100, issued_ms=9_000), a_wallet(500), {})
    assert isinstance(decision, Decide)
    mark = decision.change.marks[DEBIT_OP]
    assert mark == Mark(Verdict.DEBITED, OperationKind.DEBIT, 100, "USD", 9_000, T0)
    assert record_from_mark("wal_1", DEBIT_OP, mark) == record_of(
        debit(100), DEBIT_OP, Verdict.DEBITED, T0
    )
    assert decide(debit(100), a_wallet(400, marks={DEBIT_OP: mark}), {}) == Settled(Verdict.DEBITED)


def test_a_tombstone_mark_carries_the_record_of_the_step_it_cancels() -> None:
    decision = decide(refund(200, issued_ms=9_000), a_wallet(500), {})
    assert isinstance(decision, Decide)
    tombstone = decision.change.marks[DEBIT_OP]
    assert (tombstone.kind, tombstone.verdict, tombstone.issued_ms) == (
        OperationKind.DEBIT,
        Verdict.CANCELLED,
        9_000,
    )
    record = record_from_mark("wal_1", DEBIT_OP, tombstone)
    assert record == record_of(refund(200), DEBIT_OP, Verdict.CANCELLED, T0)
    assert record.outcome is StepOutcome.SOURCE_UNAVAILABLE


def test_a_legacy_mark_does_not_stand_for_a_record() -> None:
    with pytest.raises(ValueError, match="does not carry"):
        record_from_mark("wal_1", DEBIT_OP, Mark(Verdict.DEBITED))
