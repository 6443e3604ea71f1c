"""How a presented refresh token is judged."""

from __future__ import annotations

from payflow_gateway.domain.sessions import (
    FamilyRevocation,
    RefreshStatus,
    RefreshVerdict,
    judge_refresh,
)


def test_the_request_that_spends_an_active_token_rotates_it() -> None:
    assert judge_refresh(True, None, None) is RefreshVerdict.ROTATE


def test_a_spent_token_coming_back_is_reuse() -> None:
    assert judge_refresh(False, RefreshStatus.SPENT, None) is RefreshVerdict.REUSED


def test_every_token_of_a_family_revoked_for_reuse_answers_reuse() -> None:
    assert judge_refresh(False, None, FamilyRevocation.REUSE) is RefreshVerdict.REUSED
    assert judge_refresh(True, None, FamilyRevocation.REUSE) is RefreshVerdict.REUSED


def test_a_logged_out_family_answers_invalid() -> None:
    assert judge_refresh(False, None, FamilyRevocation.LOGOUT) is RefreshVerdict.INVALID
    assert (
        judge_refresh(False, RefreshStatus.SPENT, FamilyRevocation.LOGOUT) is RefreshVerdict.INVALID
    )


def test_an_unknown_or_revoked_token_is_invalid() -> None:
    assert judge_refresh(False, None, None) is RefreshVerdict.INVALID
    assert judge_refresh(False, RefreshStatus.REVOKED, None) is RefreshVerdict.INVALID
