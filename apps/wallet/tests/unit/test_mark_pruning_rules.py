"""How far a prune moves `pruned_through_ms` (a pure rule), and when a busy wallet is pruned on
its own."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from payflow_contracts.saga import SagaStep
from payflow_wallet.adapters.memory import InMemoryOperationLog, InMemoryWalletRepository
from payflow_wallet.domain.operations import OperationRequest
from payflow_wallet.domain.wallet import Mark, OperationKind, Verdict, open_wallet
from payflow_wallet.mark_pruner import MarkPruner, pruned_through_after
from payflow_wallet.wallet_operations import WalletOperations

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


async def test_a_wallet_given_crowd_marks_is_pruned_on_its_own_and_others_wait_their_round() -> (
    None
):
    wallets, log = InMemoryWalletRepository(), InMemoryOperationLog()
    clock = iter(T0 + timedelta(seconds=s) for s in range(10_000))
    pruner = MarkPruner(wallets, log, min_age_s=0, clock=lambda: T0 + timedelta(days=1), crowd=3)
    operations = WalletOperations(wallets, log, clock=lambda: next(clock), on_marked=pruner.note)
    for wallet_id in ("wal_busy", "wal_calm"):
        await wallets.add(open_wallet(wallet_id, "usr_1", "USD", T0))
    for n in range(1, 3):
        await operations.settle(credit("wal_busy", f"tr_{n}", 1_000 + n))
    await operations.settle(credit("wal_calm", "tr_calm", 5_000))
    assert await pruner.prune_crowded() == 0  # two marks: not crowded yet
    await operations.settle(credit("wal_busy", "tr_3", 1_003))
    assert await pruner.prune_crowded() == 3
    busy, calm = await wallets.get("wal_busy"), await wallets.get("wal_calm")
    assert busy is not None and calm is not None
    assert dict(busy.marks) == {} and busy.pruned_through_ms == 1_003
    assert set(calm.marks) == {"tr_calm:credit_destination"}  # left for the periodic round
    assert set(await log.find([f"tr_{n}:credit_destination" for n in (1, 2, 3)])) == {
        f"tr_{n}:credit_destination" for n in (1, 2, 3)
    }
    assert await pruner.prune_crowded() == 0  # counted afresh after a prune


def credit(wallet_id: str, saga: str, issued_ms: int) -> OperationRequest:
    return OperationRequest(
        kind=OperationKind.CREDIT,
        saga_id=saga,
        step=SagaStep.CREDIT_DESTINATION,
        wallet_id=wallet_id,
        amount=10,
        currency="USD",
        issued_ms=issued_ms,
    )
