"""How far a prune moves `pruned_through_ms`: a pure rule of the mark pruner."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from payflow_wallet.domain.wallet import Mark, OperationKind, Verdict, open_wallet
from payflow_wallet.mark_pruner import pruned_through_after

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def issued(ms: int | None) -> Mark:
    return Mark(Verdict.DEBITED, OperationKind.DEBIT, 10, "USD", ms, T0)


def test_a_prune_raises_pruned_through_to_the_latest_issue_time_it_drops_and_never_lowers_it() -> (
    None
):
    wallet = replace(
        open_wallet("wal_1", "usr_1", "USD", T0),
        marks={"a": issued(7_000), "b": issued(9_000), "c": issued(12_000)},
        pruned_through_ms=8_000,
    )
    assert pruned_through_after(wallet, ["a", "b"]) == 9_000
    assert pruned_through_after(wallet, ["a"]) == 8_000  # never lower than before
    assert pruned_through_after(wallet, []) == 8_000


def test_a_prune_of_a_mark_that_does_not_say_when_it_was_issued_makes_it_unknown() -> None:
    wallet = replace(
        open_wallet("wal_1", "usr_1", "USD", T0),
        marks={"a": issued(7_000), "legacy": Mark(Verdict.DEBITED), "b": issued(None)},
    )
    assert pruned_through_after(wallet, ["a", "legacy"]) is None
    assert pruned_through_after(wallet, ["b"]) is None
    assert pruned_through_after(replace(wallet, pruned_through_ms=None), ["a"]) is None
