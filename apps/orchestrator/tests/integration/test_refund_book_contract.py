"""One contract for every RefundBook: the MongoDB adapter and its in-memory twin. Reservations
are guarded single-document updates on the original transfer; these tests hold the guard, the
slot, the settlements and the keeper's queries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import pytest
from beanie import init_beanie
from orchestrator_support import a_transfer

from payflow_orchestrator.adapters.memory import InMemoryRefundBook, InMemoryTransferRepository
from payflow_orchestrator.adapters.mongo import (
    MongoRefundBook,
    MongoTransferRepository,
    TransferDocument,
)
from payflow_orchestrator.domain.reservations import Reservation, Settlement, slot_for
from payflow_orchestrator.domain.saga_machine import SagaState
from payflow_orchestrator.domain.transfer import Transfer
from payflow_orchestrator.ports import RefundBook, TransferRepository


@dataclass
class World:
    transfers: TransferRepository
    book: RefundBook


@pytest.fixture(params=["mongo", "memory"])
async def world(request: Any, mongo_db: Any) -> AsyncIterator[World]:
    if request.param == "memory":
        transfers = InMemoryTransferRepository()
        yield World(transfers, InMemoryRefundBook(transfers))
        return
    await init_beanie(database=mongo_db, document_models=[TransferDocument])
    yield World(
        MongoTransferRepository(mongo_db["transfers"]), MongoRefundBook(mongo_db["transfers"])
    )


async def completed(
    world: World, now: datetime, state: SagaState = SagaState.COMPLETED
) -> Transfer:
    transfer = replace(a_transfer("tr_paid", at=now), state=state)  # amount 100
    await world.transfers.add(transfer)
    return transfer


def share(saga_id: str, amount: int, at_ms: int = 1_000) -> Reservation:
    return Reservation(saga_id=saga_id, amount=amount, reserved_at_ms=at_ms, request={"k": saga_id})


async def stored(world: World) -> Transfer:
    found = await world.transfers.get("tr_paid")
    assert found is not None
    return found


async def test_a_reservation_holds_its_share_and_names_its_refund(
    world: World, now: datetime
) -> None:
    paid = await completed(world, now)
    assert await world.book.reserve(paid, "s1", share("tr_r1", 30), due_ms=5_000)
    seen = await stored(world)
    assert (seen.refund_reserved, seen.refunded_amount, seen.reservations_open) == (30, 0, 1)
    assert seen.refund_ids == ["tr_r1"]
    assert seen.reservations == {"s1": share("tr_r1", 30)}


async def test_a_slot_is_reserved_once(world: World, now: datetime) -> None:
    paid = await completed(world, now)
    assert await world.book.reserve(paid, "s1", share("tr_r1", 10), due_ms=5_000)
    assert not await world.book.reserve(paid, "s1", share("tr_r2", 10), due_ms=5_000)
    assert (await stored(world)).refund_reserved == 10


async def test_nothing_is_reserved_beyond_the_amount(world: World, now: datetime) -> None:
    paid = await completed(world, now)
    assert await world.book.reserve(paid, "s1", share("tr_r1", 60), due_ms=5_000)
    assert not await world.book.reserve(paid, "s2", share("tr_r2", 41), due_ms=5_000)
    assert await world.book.reserve(paid, "s3", share("tr_r3", 40), due_ms=5_000)
    assert (await stored(world)).refund_reserved == 100


@pytest.mark.parametrize("state", [SagaState.FAILED, SagaState.POSTING_TRANSFER])
async def test_only_a_completed_transfer_takes_a_reservation(
    world: World, now: datetime, state: SagaState
) -> None:
    paid = await completed(world, now, state)
    assert not await world.book.reserve(paid, "s1", share("tr_r1", 1), due_ms=5_000)


async def test_twenty_concurrent_reservations_never_exceed_the_amount(
    world: World, now: datetime
) -> None:
    paid = await completed(world, now)
    won = await asyncio.gather(
        *(world.book.reserve(paid, f"s{i}", share(f"tr_r{i}", 15), due_ms=5_000) for i in range(20))
    )
    assert sum(won) == 6
    seen = await stored(world)
    assert seen.refund_reserved == 90 and seen.reservations_open == 6
    assert len(seen.refund_ids) == 6 == len(seen.reservations)


async def test_a_completed_refund_is_consumed_and_a_failed_one_released_once(
    world: World, now: datetime
) -> None:
    paid = await completed(world, now)
    await world.book.reserve(paid, "s1", share("tr_r1", 30), due_ms=5_000)
    await world.book.reserve(paid, "s2", share("tr_r2", 50), due_ms=5_000)
    assert await world.book.settle("tr_paid", "s1", "tr_r1", 30, Settlement.CONSUMED)
    assert not await world.book.settle("tr_paid", "s1", "tr_r1", 30, Settlement.CONSUMED)
    assert await world.book.settle("tr_paid", "s2", "tr_r2", 50, Settlement.RELEASED)
    assert not await world.book.settle("tr_paid", "s2", "tr_r2", 50, Settlement.RELEASED)
    seen = await stored(world)
    assert (seen.refund_reserved, seen.refunded_amount, seen.reservations_open) == (30, 30, 0)
    assert seen.reservations == {}
    assert seen.refund_ids == ["tr_r1", "tr_r2"]  # every refund ever started stays listed
    # The released share is free again.
    assert await world.book.reserve(paid, "s3", share("tr_r3", 70), due_ms=5_000)


async def test_a_settlement_names_its_saga(world: World, now: datetime) -> None:
    paid = await completed(world, now)
    await world.book.reserve(paid, "s1", share("tr_r1", 30), due_ms=5_000)
    assert not await world.book.settle("tr_paid", "s1", "tr_other", 30, Settlement.RELEASED)
    assert (await stored(world)).refund_reserved == 30


async def test_due_parents_are_found_postponed_and_forgotten_once_settled(
    world: World, now: datetime
) -> None:
    paid = await completed(world, now)
    await world.book.reserve(paid, "s1", share("tr_r1", 30), due_ms=5_000)
    assert await world.book.due(4_999, 10) == []
    assert await world.book.due(5_000, 10) == [("tr_paid", {"s1": share("tr_r1", 30)})]
    await world.book.postpone("tr_paid", 9_000)
    assert await world.book.due(8_000, 10) == []
    assert [p for p, _ in await world.book.due(9_000, 10)] == ["tr_paid"]
    await world.book.settle("tr_paid", "s1", "tr_r1", 30, Settlement.CONSUMED)
    assert await world.book.due(10**12, 10) == []


async def test_the_sagas_own_writes_never_touch_the_refund_fields(
    world: World, now: datetime
) -> None:
    """The saga's compare-and-set writes a whole copy of the transfer; a copy read before a
    reservation must not overwrite it."""
    paid = await completed(world, now)
    await world.book.reserve(paid, "s1", share("tr_r1", 30), due_ms=5_000)
    stale = replace(paid, version=paid.version + 1)
    assert await world.transfers.compare_and_set(stale, paid.version)
    seen = await stored(world)
    assert (seen.version, seen.refund_reserved, seen.refund_ids) == (1, 30, ["tr_r1"])


def test_slots_are_field_names_whatever_the_key() -> None:
    slot = slot_for("usr_a", "$weird.key with spaces")
    assert slot.isalnum() and "$" not in slot and "." not in slot
    assert slot == slot_for("usr_a", "$weird.key with spaces")
    assert slot != slot_for("usr_b", "$weird.key with spaces")
