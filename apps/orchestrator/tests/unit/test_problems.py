"""Every exception the orchestrator defines is answered by the problem catalogue or handled
inside the service; the catalogue keeps the codes and details the internal API always had."""

from __future__ import annotations

from payflow_orchestrator.domain.errors import (
    IdempotencyKeyReused,
    LinkKeyReused,
    OrchestratorError,
)
from payflow_orchestrator.problems import INTERNAL, PROBLEMS
from payflow_service.problems import problem_for, subclasses


def test_every_orchestrator_error_has_a_problem_or_is_internal() -> None:
    unmapped = [
        kind.__qualname__
        for kind in subclasses(OrchestratorError)
        if kind not in PROBLEMS and kind not in INTERNAL
    ]
    assert not unmapped, f"add these to PROBLEMS or INTERNAL in problems.py: {unmapped}"


def test_no_class_is_both_answered_and_internal() -> None:
    assert not set(PROBLEMS) & INTERNAL


def test_a_reused_key_names_what_it_made() -> None:
    transfer = problem_for(IdempotencyKeyReused("k"), PROBLEMS)
    link = problem_for(LinkKeyReused("k"), PROBLEMS)
    assert transfer is not None and link is not None
    assert (transfer.status, transfer.code) == (link.status, link.code)
    assert (transfer.status, transfer.code) == (422, "idempotency_key_reused")
    assert transfer.detail.endswith("a different transfer.")
    assert link.detail.endswith("a different request.")
