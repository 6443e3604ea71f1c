"""Platform fees: the pure arithmetic, and the saga carrying a fee in its commands."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from orchestrator_support import POLICY
from pydantic import ValidationError

from payflow_contracts.saga import SagaStep
from payflow_orchestrator.domain.commands import command_for
from payflow_orchestrator.domain.fees import FeePlan, FeeTerms, fee_for
from payflow_orchestrator.domain.saga_machine import SagaKind
from payflow_orchestrator.domain.transfer import open_transfer, public_view

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("amount", "basis_points", "fixed", "fee"),
    [
        (1_000, 290, 30, 59),  # 29 + 30
        (10_000, 290, 30, 320),
        (1, 290, 0, 0),  # 0.029 rounds down
        (50, 100, 0, 1),  # 0.5 rounds up
        (49, 100, 0, 0),  # 0.49 rounds down
        (150, 100, 0, 2),  # 1.5 rounds up
        (1_000, 0, 0, 0),
        (1_000, 10_000, 0, 1_000),  # the whole amount (then refused: see leaves_something)
    ],
)
def test_the_fee_is_basis_points_rounded_half_up_plus_the_fixed_part(
    amount: int, basis_points: int, fixed: int, fee: int
) -> None:
    assert fee_for(amount, FeeTerms(basis_points=basis_points, fixed=fixed)) == fee


@given(st.integers(1, 10**9), st.integers(0, 10_000), st.integers(0, 10_000))
def test_the_fee_is_an_integer_within_half_a_minor_unit_of_the_exact_one(
    amount: int, basis_points: int, fixed: int
) -> None:
    fee = fee_for(amount, FeeTerms(basis_points=basis_points, fixed=fixed))
    exact_doubled = 2 * amount * basis_points  # twice the proportional fee, times 10_000
    assert abs(2 * (fee - fixed) * 10_000 - exact_doubled) <= 10_000


def test_a_plan_charges_per_currency_and_nothing_elsewhere() -> None:
    plan = FeePlan(terms={"USD": FeeTerms(basis_points=290, fixed=30)})
    assert plan.fee(1_000, "USD") == 59
    assert plan.fee(1_000, "JPY") == 0
    assert plan.leaves_something(32, "USD")  # fee 1 + 30
    assert not plan.leaves_something(31, "USD")  # fee 1 + 30: all of it


@pytest.mark.parametrize("terms", [{"basis_points": -1}, {"basis_points": 10_001}, {"fixed": -1}])
def test_fee_terms_are_refused_outside_their_range(terms: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="fee terms"):
        FeeTerms(**terms)


def a_payment(fee: int) -> object:
    return open_transfer(
        transfer_id="tr_pay",
        kind=SagaKind.TRANSFER,
        initiator_id="usr_payer",
        idempotency_key="k",
        source_wallet_id="wal_payer",
        destination_wallet_id="wal_merchant",
        amount=1_000,
        currency="USD",
        description=None,
        metadata={},
        owner_ids=["usr_payer", "usr_merchant"],
        now=T0,
        policy=POLICY,
        fee=fee,
    )


def test_a_payment_with_a_fee_debits_the_amount_and_credits_the_amount_less_the_fee() -> None:
    transfer = a_payment(59)
    amounts = {
        step: (
            command_for(transfer, step, False).amount,
            getattr(command_for(transfer, step, False), "fee", None),
        )  # type: ignore[arg-type]
        for step in SagaStep
        if step is not SagaStep.POST_TOP_UP
    }
    assert amounts == {
        SagaStep.DEBIT_SOURCE: (1_000, None),
        SagaStep.POST_TRANSFER: (1_000, 59),
        SagaStep.CREDIT_DESTINATION: (941, None),
        SagaStep.CANCEL_CREDIT: (941, None),
        SagaStep.REVERSE_POSTING: (1_000, None),
        SagaStep.REFUND_SOURCE: (1_000, None),  # the payer gets back all that left the wallet
    }
    view = public_view(transfer).model_dump(mode="json")  # type: ignore[arg-type]
    assert (view["amount"], view["fee"], view["net_amount"]) == (1_000, 59, 941)


def test_a_transfer_without_a_fee_shows_fee_zero_and_net_the_amount() -> None:
    view = public_view(a_payment(0)).model_dump(mode="json")  # type: ignore[arg-type]
    assert (view["fee"], view["net_amount"]) == (0, 1_000)


@pytest.mark.parametrize("fee", [-1, 1_000, 2_000])
def test_a_saga_refuses_a_fee_that_is_negative_or_takes_the_whole_amount(fee: int) -> None:
    with pytest.raises(ValueError, match="fee"):
        a_payment(fee)


def test_the_fee_plan_is_read_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    from payflow_orchestrator.settings import OrchestratorSettings

    monkeypatch.setenv("PAYFLOW_FEE_PLAN", '{"EUR": {"basis_points": 150, "fixed": 10}}')
    plan = OrchestratorSettings(_env_file=None).fees()  # type: ignore[call-arg]
    assert (plan.fee(1_000, "EUR"), plan.fee(1_000, "USD")) == (25, 0)
    monkeypatch.setenv("PAYFLOW_FEE_PLAN", '{"EUR": {"basis_points": 10001}}')
    with pytest.raises(ValidationError):
        OrchestratorSettings(_env_file=None)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("plan", "error"),
    [
        ('{"EUR": {"basis_points": 10001}}', "less_than_equal"),
        ('{"EUR": {"fixed": -1}}', "greater_than_equal"),
        ('{"EUR": {"bps": 1}}', "extra_forbidden"),
        ('{"EUR": {"basis_points": "10"}}', "int_type"),
        ('{"EUR": {"basis_points": 1.0}}', "int_type"),
        ('{"EUR": {"fixed": true}}', "int_type"),
        ('{"EUR": 5}', "model_type"),
    ],
)
def test_a_bad_fee_plan_is_refused_by_the_settings(
    monkeypatch: pytest.MonkeyPatch, plan: str, error: str
) -> None:
    from payflow_orchestrator.settings import OrchestratorSettings

    monkeypatch.setenv("PAYFLOW_FEE_PLAN", plan)
    with pytest.raises(ValidationError) as refused:
        OrchestratorSettings(_env_file=None)  # type: ignore[call-arg]
    assert [e["type"] for e in refused.value.errors()] == [error]


def test_the_default_fee_plan() -> None:
    from payflow_orchestrator.settings import OrchestratorSettings

    plan = OrchestratorSettings(_env_file=None).fees()  # type: ignore[call-arg]
    assert plan.terms == {
        "USD": FeeTerms(basis_points=290, fixed=30),
        "EUR": FeeTerms(basis_points=290, fixed=25),
        "GBP": FeeTerms(basis_points=290, fixed=20),
    }
