"""The invariant checker flags what it must: each check fed a store state with the fault it
exists to catch (money moved twice, a compensation after completion, an unbalanced journal
entry, a refund beyond its original, invented money)."""

from __future__ import annotations

from typing import Any

import pytest

from payflow_testing.chaos.invariants import InvariantChecker, Snapshot


def new_checker() -> InvariantChecker:
    # Clients connect lazily: these checks only read the snapshot they are given.
    return InvariantChecker(
        mongo_url="mongodb://127.0.0.1:1",
        redis_url="redis://127.0.0.1:1/0",
        prefix="t",
        subscriptions=[],
        receivers=[],
    )


@pytest.fixture
def checker() -> InvariantChecker:
    return new_checker()


def transfer(
    saga: str, state: str, amount: int = 100, kind: str = "transfer", **extra: Any
) -> dict[str, Any]:
    return {
        "_id": saga,
        "kind": kind,
        "state": state,
        "amount": amount,
        "currency": "USD",
        "source_wallet_id": "wal_a" if kind != "top_up" else None,
        "destination_wallet_id": "wal_b",
        "owner_ids": ["usr_a", "usr_b"],
        **extra,
    }


def posting(
    saga: str, amount: int, source: str = "wal_a", step: str = "post_transfer"
) -> dict[str, Any]:
    return {
        "_id": f"{saga}:{step}",
        "verdict": "posted",
        "transaction": {
            "currency": "USD",
            "entries": [
                {"account": source, "direction": "debit", "amount": amount},
                {"account": "wal_b", "direction": "credit", "amount": amount},
            ],
        },
    }


def completed_saga(saga: str = "tr_1", amount: int = 100) -> Snapshot:
    return Snapshot(
        transfers={saga: transfer(saga, "completed", amount)},
        wallets={
            "wal_a": {"_id": "wal_a", "balance": 900, "currency": "USD"},
            "wal_b": {"_id": "wal_b", "balance": 100, "currency": "USD"},
        },
        wallet_verdicts={
            f"{saga}:debit_source": "debited",
            f"{saga}:credit_destination": "credited",
        },
        journal={f"{saga}:post_transfer": posting(saga, amount)},
    )


def test_a_completed_saga_whose_money_moved_once_passes(checker: InvariantChecker) -> None:
    checker._check_sagas(completed_saga(), only_new=False)
    assert checker.checks["saga-money-matches-outcome"].violations == 0


def test_a_completed_saga_also_refunded_is_flagged(checker: InvariantChecker) -> None:
    snapshot = completed_saga()
    snapshot.wallet_verdicts["tr_1:refund_source"] = "refunded"
    checker._check_sagas(snapshot, only_new=False)
    assert checker.checks["saga-money-matches-outcome"].violations == 1


def test_a_failed_saga_whose_credit_landed_is_flagged(checker: InvariantChecker) -> None:
    snapshot = completed_saga()
    snapshot.transfers["tr_1"]["state"] = "compensated"
    snapshot.wallet_verdicts["tr_1:refund_source"] = "refunded"
    snapshot.journal["tr_1:reverse_posting"] = {
        "_id": "tr_1:reverse_posting",
        "verdict": "reversed",
    }
    checker._check_sagas(snapshot, only_new=False)
    assert checker.checks["saga-money-matches-outcome"].violations == 1  # the credit stayed
    del snapshot.wallet_verdicts["tr_1:credit_destination"]
    fresh = new_checker()
    fresh._check_sagas(snapshot, only_new=False)
    assert fresh.checks["saga-money-matches-outcome"].violations == 0


def test_an_unbalanced_journal_transaction_is_flagged(checker: InvariantChecker) -> None:
    snapshot = completed_saga()
    snapshot.journal["tr_1:post_transfer"]["transaction"]["entries"][1]["amount"] = 99
    checker._check_journal(snapshot)
    assert checker.checks["journal-balanced"].violations == 1


def test_a_negative_balance_is_flagged(checker: InvariantChecker) -> None:
    snapshot = completed_saga()
    snapshot.wallets["wal_a"]["balance"] = -1
    checker._check_balances(snapshot)
    assert checker.checks["no-negative-balance"].violations == 1
    assert checker.min_balance_seen == -1


def test_two_refunds_or_a_refund_beyond_the_original_are_flagged(checker: InvariantChecker) -> None:
    snapshot = completed_saga()
    mirror = {"source_wallet_id": "wal_b", "destination_wallet_id": "wal_a", "refund_of": "tr_1"}
    snapshot.transfers["tr_r1"] = {**transfer("tr_r1", "completed", 100, "refund"), **mirror}
    checker._check_refunds(snapshot)
    assert checker.checks["refunds-within-original"].violations == 0
    snapshot.transfers["tr_r2"] = {**transfer("tr_r2", "completed", 100, "refund"), **mirror}
    checker._check_refunds(snapshot)
    assert checker.checks["refunds-within-original"].violations >= 2  # two refunds, 200 back


def test_invented_money_breaks_conservation_and_the_wallet_ledger_match(
    checker: InvariantChecker,
) -> None:
    snapshot = completed_saga()
    snapshot.transfers["tr_t"] = transfer("tr_t", "completed", 1000, "top_up")
    snapshot.journal["tr_t:post_top_up"] = posting("tr_t", 1000, "funding:USD", "post_top_up")
    snapshot.journal["tr_t:post_top_up"]["transaction"]["entries"][1]["account"] = "wal_a"
    checker._check_conservation(snapshot)
    assert checker.checks["money-conserved"].violations == 0
    assert checker.checks["wallets-equal-ledger"].violations == 0

    snapshot.wallets["wal_b"]["balance"] += 5  # money from nowhere
    invented = new_checker()
    invented._check_conservation(snapshot)
    assert invented.checks["money-conserved"].violations >= 1
    assert invented.checks["wallets-equal-ledger"].violations == 1


def test_a_deliberate_failure_that_completed_is_flagged(checker: InvariantChecker) -> None:
    checker.deliberate = {"tr_1": "frozen"}
    checker._check_deliberate(completed_saga())
    assert checker.checks["deliberate-failures-fail"].violations == 1
