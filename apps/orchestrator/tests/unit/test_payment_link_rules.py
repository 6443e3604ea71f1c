"""The pure rules of payment links: status, what a payment may be, what a link may be."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from orchestrator_support import a_link

from payflow_orchestrator.domain.errors import LinkRefused
from payflow_orchestrator.domain.fees import FeePlan, FeeTerms
from payflow_orchestrator.domain.payment_links import (
    LinkStatus,
    check_new_link,
    check_not_held,
    payment_amount,
)
from payflow_orchestrator.domain.reservations import Reservation
from payflow_orchestrator.schemas import PaymentLinkView

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)  # pure functions: the instant is passed in
PLAN = FeePlan(terms={"USD": FeeTerms(basis_points=290, fixed=30)})
NO_FEES = FeePlan()


def refused(call: object) -> tuple[int, str]:
    with pytest.raises(LinkRefused) as caught:
        call()  # type: ignore[operator]
    return caught.value.status, caught.value.code


def test_a_fixed_amount_link_is_paid_its_amount_less_nothing_but_the_fee() -> None:
    link = a_link(at=T0)
    assert payment_amount(link, None, T0, PLAN) == (1_000, 59)
    assert payment_amount(link, 1_000, T0, PLAN) == (1_000, 59)
    assert payment_amount(link, None, T0, NO_FEES) == (1_000, 0)
    assert refused(lambda: payment_amount(link, 999, T0, PLAN)) == (
        422,
        "payment_link_amount_invalid",
    )


def test_an_open_amount_link_takes_what_lies_within_its_bounds() -> None:
    link = a_link(at=T0, amount=None, min_amount=500, max_amount=5_000)
    assert payment_amount(link, 500, T0, NO_FEES) == (500, 0)
    assert payment_amount(link, 5_000, T0, NO_FEES) == (5_000, 0)
    for outside in (None, 499, 5_001):
        with pytest.raises(LinkRefused) as caught:
            payment_amount(link, outside, T0, NO_FEES)
        assert caught.value.code == "payment_link_amount_invalid"


def test_a_payment_the_fee_would_swallow_is_refused() -> None:
    link = a_link(at=T0, amount=None, min_amount=1, max_amount=5_000)
    assert refused(lambda: payment_amount(link, 31, T0, PLAN)) == (422, "amount_below_fee")
    assert payment_amount(link, 32, T0, PLAN) == (32, 31)


def test_status_follows_deactivation_expiry_and_a_single_use_payment() -> None:
    expiring = a_link(at=T0, expires_at=T0 + timedelta(minutes=5))
    assert expiring.status(T0 + timedelta(minutes=4, seconds=59)) is LinkStatus.ACTIVE
    assert expiring.status(T0 + timedelta(minutes=5)) is LinkStatus.EXPIRED
    assert replace(a_link(at=T0), active=False).status(T0) is LinkStatus.INACTIVE
    paid = replace(a_link(at=T0, single_use=True), paid_count=1)
    assert paid.status(T0) is LinkStatus.PAID
    reusable = replace(a_link(at=T0), paid_count=7)
    assert reusable.status(T0) is LinkStatus.ACTIVE


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"active": False}, 410, "payment_link_inactive"),
        ({"expires_at": T0}, 410, "payment_link_expired"),
        ({"single_use": True, "paid_count": 1}, 409, "payment_link_used"),
    ],
)
def test_a_link_that_cannot_be_paid_says_why(
    changes: dict[str, object], status: int, code: str
) -> None:
    link = replace(a_link(at=T0), **changes)
    assert refused(lambda: payment_amount(link, None, T0, PLAN)) == (status, code)


def test_a_reusable_link_takes_payments_in_flight_side_by_side() -> None:
    held = Reservation(saga_id="tr_1", amount=1_000, reserved_at_ms=0, request={})
    link = replace(a_link(at=T0), reservations={"s": held}, reservations_open=1)
    assert payment_amount(link, None, T0, PLAN) == (1_000, 59)
    check_not_held(link)  # reusable: never held by another payment


def test_a_single_use_link_held_by_another_payment_is_busy() -> None:
    held = Reservation(saga_id="tr_1", amount=1_000, reserved_at_ms=0, request={})
    link = replace(a_link(at=T0, single_use=True), reservations={"s": held}, reservations_open=1)
    assert refused(lambda: check_not_held(link)) == (409, "payment_link_busy")


def new_link(**changes: object) -> tuple[int | None, int | None]:
    fields: dict[str, object] = {
        "amount": None,
        "min_amount": None,
        "max_amount": None,
        "currency": "USD",
        "expires_at": None,
        "now": T0,
        "plan": PLAN,
        "max_transfer_amount": 100_000,
        **changes,
    }
    return check_new_link(**fields)  # type: ignore[arg-type]


def test_a_new_link_has_a_fixed_amount_or_bounds_defaulted_to_the_transfer_limits() -> None:
    assert new_link(amount=1_000) == (None, None)
    assert new_link() == (1, 100_000)
    assert new_link(min_amount=50) == (50, 100_000)
    assert refused(lambda: new_link(amount=1_000, min_amount=5))[1] == "validation_error"
    assert refused(lambda: new_link(min_amount=6, max_amount=5))[1] == "validation_error"
    assert refused(lambda: new_link(max_amount=100_001))[1] == "validation_error"


def test_a_new_link_must_leave_the_merchant_something_and_expire_in_the_future() -> None:
    assert refused(lambda: new_link(amount=31)) == (422, "amount_below_fee")
    assert refused(lambda: new_link(max_amount=31)) == (422, "amount_below_fee")
    assert refused(lambda: new_link(amount=1_000, expires_at=T0))[1] == "validation_error"
    assert new_link(amount=1_000, expires_at=T0 + timedelta(seconds=1)) == (None, None)


def test_the_view_shows_status_and_counts() -> None:
    link = replace(a_link(at=T0), paid_count=2, paid_amount=2_000)
    view = PaymentLinkView.of(link, T0).model_dump(mode="json")
    assert view["status"] == "active"
    assert (view["paid_count"], view["paid_amount"], view["payments_in_flight"]) == (2, 2_000, 0)
    assert view["created_at"] == "2026-11-22T12:00:00Z"
