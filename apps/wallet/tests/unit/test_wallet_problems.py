"""Every exception of the wallet service is answered by the catalogue or handled inside it."""

from __future__ import annotations

from payflow_service.problems import subclasses
from payflow_wallet.domain.errors import WalletError
from payflow_wallet.problems import INTERNAL, PROBLEMS


def test_every_wallet_error_is_a_problem_or_internal() -> None:
    missing = [c for c in subclasses(WalletError) if c not in PROBLEMS and c not in INTERNAL]
    assert missing == []


def test_no_error_is_both_a_problem_and_internal() -> None:
    assert not set(PROBLEMS) & INTERNAL
    assert all(issubclass(c, WalletError) for c in [*PROBLEMS, *INTERNAL])
