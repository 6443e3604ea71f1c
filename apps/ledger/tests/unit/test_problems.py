"""Every exception the ledger defines is answered by a problem document or handled inside."""

from __future__ import annotations

from payflow_ledger.domain.errors import LedgerError
from payflow_ledger.problems import INTERNAL, PROBLEMS
from payflow_service.problems import subclasses


def test_every_ledger_error_has_a_problem_or_is_internal() -> None:
    unmapped = [
        kind.__qualname__
        for kind in subclasses(LedgerError)
        if kind not in PROBLEMS and kind not in INTERNAL
    ]
    assert unmapped == []


def test_no_class_is_both_answered_and_internal() -> None:
    assert not set(PROBLEMS) & INTERNAL
