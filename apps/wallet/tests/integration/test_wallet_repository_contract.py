"""One contract for the wallet storage ports, run on the MongoDB adapters and their twins."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from beanie import init_beanie

from payflow_contracts.paging import PagePosition
from payflow_contracts.saga import SagaStep
from payflow_service.quotas import QuotaExceeded
from payflow_wallet.adapters.memory import InMemoryOperationLog, InMemoryWalletRepository
from payflow_wallet.adapters.mongo import (
    MongoOperationLog,
    MongoWalletRepository,
    OperationDocument,
    WalletDocument,
    mark_key,
    operation_of,
)
from payflow_wallet.domain.errors import DuplicateWallet
from payflow_wallet.domain.operations import (
    Guard,
    OperationKind,
    OperationRecord,
    WalletChange,
)
from payflow_wallet.domain.wallet import Mark, Verdict, Wallet, WalletStatus, open_wallet
from payflow_wallet.ports import OperationLog, WalletRepository

pytestmark = pytest.mark.integration

OP = "tr_1:debit_source"
ACTIVE = frozenset({WalletStatus.ACTIVE})
DECIDED = datetime(2026, 1, 5, 12, 0, 0, 123000, tzinfo=UTC)  # at the store's precision


def mark(verdict: Verdict, issued_ms: int | None = 1_000, amount: int = 10) -> Mark:
    """A mark carrying its record, as the wallet writes them."""
    kind = OperationKind.CREDIT if verdict is Verdict.CREDITED else OperationKind.DEBIT
    return Mark(verdict, kind, amount, "USD", issued_ms, DECIDED)


def verdicts(wallet: Wallet) -> dict[str, Verdict]:
    return {op: m.verdict for op, m in wallet.marks.items()}


@pytest.fixture(params=["mongo", "memory"])
async def ports(
    request: Any, mongo_db: Any
) -> AsyncIterator[tuple[WalletRepository, OperationLog]]:
    if request.param == "memory":
        yield InMemoryWalletRepository(), InMemoryOperationLog()
        return
    await init_beanie(database=mongo_db, document_models=[WalletDocument, OperationDocument])
    yield MongoWalletRepository(), MongoOperationLog()


@pytest.fixture
def wallets(ports: tuple[WalletRepository, OperationLog]) -> WalletRepository:
    return ports[0]


@pytest.fixture
def operations(ports: tuple[WalletRepository, OperationLog]) -> OperationLog:
    return ports[1]


def a_wallet(at: datetime, wallet_id: str = "wal_1", owner: str = "usr_1") -> Wallet:
    return open_wallet(wallet_id, owner, "USD", at)


async def funded(
    wallets: WalletRepository, balance: int, at: datetime, wallet_id: str = "wal_1"
) -> Wallet:
    await wallets.add(a_wallet(at, wallet_id))
    assert await wallets.apply(
        wallet_id,
        Guard(0, ("seed",)),
        WalletChange(balance, {"seed": mark(Verdict.CREDITED, amount=balance)}),
    )
    stored = await wallets.get(wallet_id)
    assert stored is not None
    return stored


def a_record(
    at: datetime, op: str = OP, verdict: Verdict = Verdict.DEBITED, reason: str | None = None
) -> OperationRecord:
    from payflow_wallet.domain.operations import outcome_for

    return OperationRecord(
        operation_id=op,
        saga_id=op.split(":")[0],
        step=SagaStep.DEBIT_SOURCE,
        kind=OperationKind.DEBIT,
        wallet_id="wal_1",
        amount=10,
        currency="USD",
        verdict=verdict,
        outcome=outcome_for(OperationKind.DEBIT, verdict),
        reason=reason,
        recorded_at=at,
    )


async def test_a_wallet_is_stored_and_read_back_unchanged(
    wallets: WalletRepository, now: datetime
) -> None:
    wallet = a_wallet(now)
    await wallets.add(wallet)
    assert await wallets.get("wal_1") == wallet
    assert await wallets.get("wal_nope") is None


async def test_a_wallet_id_is_taken_once(wallets: WalletRepository, now: datetime) -> None:
    await wallets.add(a_wallet(now))
    with pytest.raises(DuplicateWallet):
        await wallets.add(a_wallet(now))


async def test_an_owner_holds_at_most_the_cap_however_many_wallets_open_at_once(
    wallets: WalletRepository, now: datetime
) -> None:
    outcomes = await asyncio.gather(
        *(wallets.add(a_wallet(now, f"wal_{n}", "usr_q"), cap=3) for n in range(30)),
        return_exceptions=True,
    )
    assert sum(o is None for o in outcomes) == 3
    assert all(isinstance(o, QuotaExceeded) for o in outcomes if o is not None)
    assert len(await wallets.page("usr_q", 100, None)) == 3
    await wallets.add(a_wallet(now, "wal_other", "usr_r"), cap=3)  # a cap per owner
    with pytest.raises(DuplicateWallet):  # a taken id is still told apart from a full quota
        await wallets.add(a_wallet(now, "wal_other", "usr_r"), cap=3)


async def test_pages_follow_creation_order_then_id_without_gaps_or_repeats(
    wallets: WalletRepository, now: datetime
) -> None:
    # Several wallets share a creation instant: the id breaks the tie.
    for i in range(7):
        await wallets.add(
            a_wallet(
                now + timedelta(milliseconds=i // 3), f"wal_{i}", "usr_a" if i % 2 else "usr_b"
            )
        )
    seen: list[str] = []
    after: PagePosition | None = None
    while True:
        page = await wallets.page(None, 3, after)
        seen += [w.id for w in page]
        if len(page) < 3:
            break
        after = PagePosition(page[-1].created_at, page[-1].id)
    assert seen == [f"wal_{i}" for i in range(7)]
    owned = await wallets.page("usr_a", 10, None)
    assert [w.id for w in owned] == ["wal_1", "wal_3", "wal_5"]


async def test_a_guarded_change_applies_balance_and_marks_in_one_write(
    wallets: WalletRepository, now: datetime
) -> None:
    wallet = await funded(wallets, 100, now)
    change = WalletChange(-30, {OP: mark(Verdict.DEBITED, amount=30)})
    guard = Guard(wallet.marks_epoch, (OP,), ACTIVE, balance_at_least=30)
    assert await wallets.apply("wal_1", guard, change)
    stored = await wallets.get("wal_1")
    assert stored is not None
    assert stored.balance == 70
    assert stored.marks[OP] == change.marks[OP]  # the record it carries reads back whole
    assert stored.marks[OP].carries_record
    assert stored.version == wallet.version + 1
    # The store stamps the write with its own clock, as a tz-aware datetime.
    assert stored.updated_at.tzinfo is not None and stored.updated_at >= wallet.updated_at
    # The same mark cannot be written twice.
    assert not await wallets.apply("wal_1", guard, change)
    assert (await wallets.get("wal_1")).balance == 70  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "guard",
    [
        Guard(1, ("tr_2:x",)),  # the epoch moved
        Guard(0, ("tr_2:x", "seed")),  # a mark is present
        Guard(0, ("tr_2:x",), statuses=frozenset({WalletStatus.FROZEN})),
        Guard(0, ("tr_2:x",), balance_at_least=101),
        Guard(0, ("tr_2:x",), balance_below=100),
        # A fresh decision's guard: `pruned_through_ms` starts at 0, which is not below 0.
        Guard(None, ("tr_2:x",), pruned_before=0),
        Guard(None, ("tr_2:x", "seed"), pruned_before=5),
    ],
)
async def test_a_change_whose_guard_fails_writes_nothing(
    wallets: WalletRepository, guard: Guard, now: datetime
) -> None:
    before = await funded(wallets, 100, now)
    assert not await wallets.apply(
        "wal_1", guard, WalletChange(-1, {"tr_2:x": mark(Verdict.DEBITED, amount=1)})
    )
    assert await wallets.get("wal_1") == before
    assert not await wallets.apply(
        "wal_nope", Guard(0, ()), WalletChange(1, {"a": mark(Verdict.CREDITED, amount=1)})
    )


async def test_fifty_concurrent_guarded_debits_never_take_the_balance_below_zero(
    wallets: WalletRepository, now: datetime
) -> None:
    await funded(wallets, 250, now)

    async def debit(i: int) -> bool:
        op = f"tr_{i}:debit_source"
        return await wallets.apply(
            "wal_1",
            Guard(0, (op,), ACTIVE, balance_at_least=10),
            WalletChange(-10, {op: mark(Verdict.DEBITED)}),
        )

    results = await asyncio.gather(*(debit(i) for i in range(50)))
    assert sum(results) == 25
    stored = await wallets.get("wal_1")
    assert stored is not None and stored.balance == 0
    assert sum(v is Verdict.DEBITED for v in verdicts(stored).values()) == 25


async def test_operation_ids_with_dots_and_dollars_are_safe_mark_keys(
    wallets: WalletRepository, now: datetime
) -> None:
    wallet = await funded(wallets, 10, now)
    odd = "tr_$weird.saga%:debit_source"
    assert operation_of(mark_key(odd)) == odd and "." not in mark_key(odd)
    assert await wallets.apply(
        "wal_1", Guard(wallet.marks_epoch, (odd,)), WalletChange(-10, {odd: mark(Verdict.DEBITED)})
    )
    stored = await wallets.get("wal_1")
    assert stored is not None and stored.verdict_of(odd) is Verdict.DEBITED


async def test_a_prune_drops_only_the_named_marks_and_moves_the_epoch(
    wallets: WalletRepository, now: datetime
) -> None:
    wallet = await funded(wallets, 10, now)
    assert await wallets.apply(
        "wal_1", Guard(0, (OP,)), WalletChange(0, {OP: mark(Verdict.INSUFFICIENT_FUNDS)})
    )
    assert [w.id for w in await wallets.with_marks(10)] == ["wal_1"]
    # The pruner pages in id order: a page after this wallet is empty, one before it holds it.
    assert [w.id for w in await wallets.with_marks(10, after_id="wal_0")] == ["wal_1"]
    assert await wallets.with_marks(10, after_id="wal_1") == []
    assert not await wallets.prune_marks("wal_1", wallet.marks_epoch + 1, ["seed"], 1_000)
    assert await wallets.prune_marks("wal_1", wallet.marks_epoch, ["seed"], 1_000)
    stored = await wallets.get("wal_1")
    assert stored is not None
    assert verdicts(stored) == {OP: Verdict.INSUFFICIENT_FUNDS}
    assert stored.pruned_through_ms == 1_000
    assert stored.marks_epoch == wallet.marks_epoch + 1
    assert stored.balance == 10 and stored.version == wallet.version + 1
    # A decision read at the old epoch can no longer be written.
    assert not await wallets.apply(
        "wal_1",
        Guard(wallet.marks_epoch, ("tr_9:x",)),
        WalletChange(1, {"tr_9:x": mark(Verdict.CREDITED, amount=1)}),
    )
    assert await wallets.prune_marks("wal_1", stored.marks_epoch, [OP], 1_000)
    assert await wallets.with_marks(10) == []


async def test_a_status_change_is_guarded_by_the_status_it_expects(
    wallets: WalletRepository, now: datetime
) -> None:
    # Opened a minute ago: the status change stamps the write with the store's clock, later.
    opened = now - timedelta(minutes=1)
    await wallets.add(a_wallet(opened))
    assert await wallets.set_status("wal_1", WalletStatus.FROZEN, ACTIVE)
    assert not await wallets.set_status("wal_1", WalletStatus.FROZEN, ACTIVE)
    stored = await wallets.get("wal_1")
    assert stored is not None
    assert stored.status is WalletStatus.FROZEN and stored.version == 1
    assert stored.updated_at.tzinfo is not None and stored.updated_at > opened
    assert not await wallets.set_status("wal_nope", WalletStatus.FROZEN, ACTIVE)


async def test_the_first_record_of_an_operation_wins_and_is_read_back(
    operations: OperationLog, now: datetime
) -> None:
    first = a_record(now, verdict=Verdict.DEBITED)
    assert await operations.record(first) == first
    assert (
        await operations.record(a_record(now, verdict=Verdict.INSUFFICIENT_FUNDS, reason="x"))
        == first
    )
    found = await operations.find([OP, "tr_2:debit_source"])
    assert found == {OP: first}
    assert found[OP].recorded_at == now
    assert await operations.find([]) == {}


async def test_twenty_concurrent_records_of_one_operation_agree_on_one(
    operations: OperationLog, now: datetime
) -> None:
    verdicts = [Verdict.DEBITED, Verdict.INSUFFICIENT_FUNDS] * 10
    stored = await asyncio.gather(*(operations.record(a_record(now, verdict=v)) for v in verdicts))
    assert len({s.verdict for s in stored}) == 1


async def test_a_wallet_read_back_is_equal_after_a_round_trip_through_replace(
    wallets: WalletRepository, now: datetime
) -> None:
    wallet = replace(a_wallet(now), status=WalletStatus.CLOSED, balance=0)
    await wallets.add(wallet)
    assert await wallets.get(wallet.id) == wallet


async def test_a_fresh_guard_holds_only_while_nothing_issued_that_late_was_pruned(
    wallets: WalletRepository, now: datetime
) -> None:
    """`Guard.pruned_before`: the write succeeds only while `pruned_through_ms` is below it,
    whatever the epoch (a prune of older marks does not disturb a fresh decision)."""
    wallet = await funded(wallets, 100, now)
    assert wallet.pruned_through_ms == 0
    assert await wallets.prune_marks("wal_1", wallet.marks_epoch, ["seed"], 5_000)
    late = Guard(None, ("tr_2:debit_source",), ACTIVE, balance_at_least=10, pruned_before=5_001)
    early = Guard(None, ("tr_3:debit_source",), ACTIVE, balance_at_least=10, pruned_before=5_000)
    assert not await wallets.apply(
        "wal_1", early, WalletChange(-10, {"tr_3:debit_source": mark(Verdict.DEBITED, 5_000)})
    )
    assert await wallets.apply(
        "wal_1", late, WalletChange(-10, {"tr_2:debit_source": mark(Verdict.DEBITED, 5_001)})
    )
    stored = await wallets.get("wal_1")
    assert stored is not None and stored.balance == 90
    assert stored.marks_epoch == wallet.marks_epoch + 1  # the prune's epoch did not matter
    # Once a prune cannot say when its marks were issued, no fresh guard holds any more.
    assert await wallets.prune_marks("wal_1", stored.marks_epoch, ["tr_2:debit_source"], None)
    unknown = await wallets.get("wal_1")
    assert unknown is not None and unknown.pruned_through_ms is None
    far = Guard(None, ("tr_4:debit_source",), pruned_before=2**62)
    assert not await wallets.apply(
        "wal_1", far, WalletChange(-1, {"tr_4:debit_source": mark(Verdict.DEBITED, 2**61)})
    )
    assert (await wallets.get("wal_1")) == unknown


async def test_a_wallet_stored_with_an_unknown_pruned_through_refuses_every_fresh_guard(
    wallets: WalletRepository, now: datetime
) -> None:
    await wallets.add(replace(a_wallet(now), pruned_through_ms=None))
    stored = await wallets.get("wal_1")
    assert stored is not None and stored.pruned_through_ms is None
    fresh = Guard(None, (OP,), pruned_before=2**62)
    assert not await wallets.apply("wal_1", fresh, WalletChange(5, {OP: mark(Verdict.CREDITED)}))
    assert await wallets.apply(
        "wal_1", Guard(0, (OP,)), WalletChange(5, {OP: mark(Verdict.CREDITED)})
    )


async def test_a_legacy_mark_reads_back_as_a_verdict_alone(
    wallets: WalletRepository, now: datetime
) -> None:
    await funded(wallets, 10, now)
    assert await wallets.apply(
        "wal_1", Guard(0, (OP,)), WalletChange(0, {OP: Mark(Verdict.INSUFFICIENT_FUNDS)})
    )
    stored = await wallets.get("wal_1")
    assert stored is not None
    assert stored.marks[OP] == Mark(Verdict.INSUFFICIENT_FUNDS)
    assert not stored.marks[OP].carries_record


async def test_records_are_stored_in_one_call_and_an_existing_record_stays(
    operations: OperationLog, now: datetime
) -> None:
    first = a_record(now, verdict=Verdict.DEBITED)
    assert await operations.record(first) == first
    others = [a_record(now, op=f"tr_{i}:debit_source") for i in range(2, 6)]
    # The pruner's repeat after a cut-short round: the same records again, and one that differs
    # from what is stored (it cannot in practice; the stored one must still win).
    clash = a_record(now, verdict=Verdict.INSUFFICIENT_FUNDS, reason="x")
    await operations.record_all([clash, *others])
    await operations.record_all([*others])
    await operations.record_all([])
    found = await operations.find([OP, *(r.operation_id for r in others)])
    assert found == {OP: first, **{r.operation_id: r for r in others}}
