"""The invariants the domain's value types hold whoever builds them (checked on construction)."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from orchestrator_support import a_link, a_transfer

from payflow_orchestrator.domain.faults import FaultRule
from payflow_orchestrator.domain.fees import FeeTerms
from payflow_orchestrator.domain.reservations import Reservation

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("changes", [{"amount": 0}, {"amount": -5}, {"fee": -1}])
def test_a_transfer_moves_a_positive_amount_and_a_fee_of_at_least_zero(
    changes: dict[str, int],
) -> None:
    with pytest.raises(ValueError, match=r"amount|fee"):
        replace(a_transfer(at=T0), **changes)


def test_domain_values_are_frozen() -> None:
    with pytest.raises(FrozenInstanceError):
        a_transfer(at=T0).version = 7  # type: ignore[misc]


def test_a_reservation_holds_a_positive_amount() -> None:
    with pytest.raises(ValueError, match="positive amount"):
        Reservation(saga_id="tr_1", amount=0, reserved_at_ms=0, request={})


@pytest.mark.parametrize("changes", [{"amount": 0}, {"min_amount": 0}, {"max_amount": -1}])
def test_a_link_asks_for_positive_amounts(changes: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="strictly positive"):
        replace(a_link(at=T0, amount=None), **changes)


@pytest.mark.parametrize(
    "changes", [{"rate": 1.5}, {"rate": -0.1}, {"step": "refund"}, {"mode": "explode"}]
)
def test_a_fault_rule_has_a_rate_from_0_to_1_and_a_known_step_and_mode(
    changes: dict[str, Any],
) -> None:
    fields: dict[str, Any] = {"id": "flt_1", "owner_id": "usr_a", "step": "debit", "mode": "error"}
    with pytest.raises(ValueError, match="a fault rule's"):
        FaultRule(**{**fields, **changes})


@pytest.mark.parametrize("terms", [{"basis_points": 1.5}, {"fixed": True}, {"fixed": "3"}])
def test_fee_terms_are_integers(terms: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="fee terms"):
        FeeTerms(**terms)
