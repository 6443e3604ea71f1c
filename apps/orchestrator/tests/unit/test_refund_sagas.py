"""Partial refunds through the coordinator, with in-memory twins: a refund's share is reserved on
the original, consumed when the refund completes (and `transfer.refunded` goes out about the
original), given back when it fails, and recovered by the reservation keeper after a crash."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from orchestrator_support import POLICY, Clock, RecordingPublisher, SilentFeed, reply

from payflow_contracts.events import TransferEvent
from payflow_contracts.saga import SagaStep, StepOutcome
from payflow_contracts.streams import StreamNames
from payflow_orchestrator.adapters.memory import (
    InMemoryFaultRuleStore,
    InMemoryRefundBook,
    InMemoryTransferRepository,
)
from payflow_orchestrator.coordinator import TransferCoordinator, request_to_json
from payflow_orchestrator.domain.errors import RefundRefused
from payflow_orchestrator.domain.reservations import Reservation, slot_for
from payflow_orchestrator.domain.saga_machine import SagaKind, SagaState
from payflow_orchestrator.domain.transfer import Transfer, open_transfer
from payflow_orchestrator.ports import ReservationParents
from payflow_orchestrator.refunds import RefundDesk, _refund_request
from payflow_orchestrator.reservations import ReservationKeeper

GRACE_MS = 10_000
STREAMS = StreamNames("t")
# A pinned instant is fine: everything here reads the injected clock, and the twins are in memory.
T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@dataclass
class World:
    coordinator: TransferCoordinator
    publisher: RecordingPublisher
    clock: Clock
    transfers: InMemoryTransferRepository
    book: InMemoryRefundBook
    desk: RefundDesk
    keeper: ReservationKeeper

    def now_ms(self) -> int:
        return self.clock.ms()

    async def original(self) -> Transfer:
        found = await self.transfers.get("tr_paid")
        assert found is not None
        return found

    def refunded_events(self) -> list[TransferEvent]:
        return self.publisher.events("transfer.refunded")


@pytest.fixture
async def world() -> World:
    transfers = InMemoryTransferRepository()
    publisher = RecordingPublisher()
    clock = Clock(T0)
    coordinator = TransferCoordinator(
        transfers=transfers,
        fault_rules=InMemoryFaultRuleStore(),
        publisher=publisher,
        live=SilentFeed(),
        streams=STREAMS,
        policy=POLICY,
        faults_enabled=True,
        clock=clock,
    )
    book = InMemoryRefundBook(transfers)

    def parents_of(child: Transfer) -> tuple[ReservationParents, str] | None:
        return (book, child.refund_of) if child.refund_of else None

    keeper = ReservationKeeper(transfers, parents_of, [book], coordinator, GRACE_MS, clock.ms)
    coordinator.settle_terminal_with(keeper.settle_child)
    desk = RefundDesk(transfers, book, coordinator, GRACE_MS, clock.ms)
    opened = open_transfer(
        transfer_id="tr_paid",
        kind=SagaKind.TRANSFER,
        initiator_id="usr_a",
        idempotency_key="pay",
        source_wallet_id="wal_a",
        destination_wallet_id="wal_b",
        amount=100,
        currency="USD",
        description=None,
        metadata={},
        owner_ids=["usr_a", "usr_b"],
        now=clock.now,
        policy=POLICY,
    )
    paid = replace(opened, state=SagaState.COMPLETED)
    await transfers.add(paid)
    return World(coordinator, publisher, clock, transfers, book, desk, keeper)


async def run_refund_to_the_end(world: World, refund_id: str, debit: StepOutcome) -> None:
    await world.coordinator.on_reply(reply(refund_id, SagaStep.DEBIT_SOURCE, debit))
    if debit is StepOutcome.DEBITED:
        await world.coordinator.on_reply(
            reply(refund_id, SagaStep.POST_TRANSFER, StepOutcome.POSTED)
        )
        await world.coordinator.on_reply(
            reply(refund_id, SagaStep.CREDIT_DESTINATION, StepOutcome.CREDITED)
        )


async def test_a_completed_refund_consumes_its_share_and_tells_about_the_original(
    world: World,
) -> None:
    refund, created = await world.desk.refund("tr_paid", "usr_b", "k1", 30)
    assert created and refund.amount == 30 and refund.refund_of == "tr_paid"
    assert (await world.original()).refund_reserved == 30
    await run_refund_to_the_end(world, refund.id, StepOutcome.DEBITED)
    original = await world.original()
    assert (original.refund_reserved, original.refunded_amount) == (30, 30)
    assert original.reservations == {} and original.refund_ids == [refund.id]
    [event] = world.refunded_events()
    assert event.transfer_id == "tr_paid"
    assert event.transfer.id == "tr_paid"
    assert event.transfer.refunded_amount == 30
    assert event.transfer.refunds == [refund.id]


async def test_a_failed_refund_gives_its_share_back(world: World) -> None:
    refund, _ = await world.desk.refund("tr_paid", "usr_b", "k1", None)
    assert refund.amount == 100
    with pytest.raises(RefundRefused):
        await world.desk.refund("tr_paid", "usr_b", "k2", 1)
    await run_refund_to_the_end(world, refund.id, StepOutcome.INSUFFICIENT_FUNDS)
    original = await world.original()
    assert (original.refund_reserved, original.refunded_amount) == (0, 0)
    assert world.refunded_events() == []
    again, _ = await world.desk.refund("tr_paid", "usr_b", "k2", 100)
    assert again.amount == 100


async def test_a_compensated_refund_gives_its_share_back(world: World) -> None:
    refund, _ = await world.desk.refund("tr_paid", "usr_b", "k1", 40)
    await world.coordinator.on_reply(reply(refund.id, SagaStep.DEBIT_SOURCE, StepOutcome.DEBITED))
    await world.coordinator.on_reply(
        reply(refund.id, SagaStep.POST_TRANSFER, StepOutcome.LEDGER_REJECTED)
    )
    await world.coordinator.on_reply(reply(refund.id, SagaStep.REFUND_SOURCE, StepOutcome.REFUNDED))
    assert (await world.transfers.get(refund.id)).state is SagaState.COMPENSATED  # type: ignore[union-attr]
    assert (await world.original()).refund_reserved == 0


async def test_a_reservation_whose_request_died_is_started_by_the_keeper_after_the_grace(
    world: World,
) -> None:
    """The request reserved, then its process died before starting the refund saga."""
    original = await world.original()
    request = _refund_request(original, "usr_b", "k1", 25)
    assert request.transfer_id is not None
    reservation = Reservation(
        saga_id=request.transfer_id,
        amount=25,
        reserved_at_ms=world.now_ms(),
        request=request_to_json(request),
    )
    slot = slot_for("usr_b", "k1")
    assert await world.book.reserve(original, slot, reservation, world.now_ms() + GRACE_MS)
    world.clock.now += timedelta(milliseconds=GRACE_MS - 1)
    assert await world.keeper.sweep_once() == 0  # the request may still be about to start it
    world.clock.now += timedelta(milliseconds=GRACE_MS)
    assert await world.keeper.sweep_once() == 1
    started = await world.transfers.get(request.transfer_id)
    assert started is not None and started.refund_of == "tr_paid" and started.amount == 25
    # The client's retry with the same key answers that refund.
    retried, created = await world.desk.refund("tr_paid", "usr_b", "k1", 25)
    assert (retried.id, created) == (request.transfer_id, False)
    await run_refund_to_the_end(world, started.id, StepOutcome.DEBITED)
    assert (await world.original()).refunded_amount == 25


async def test_a_retry_that_finds_its_reservation_starts_the_same_refund(world: World) -> None:
    original = await world.original()
    request = _refund_request(original, "usr_b", "k1", 25)
    reservation = Reservation(
        saga_id=str(request.transfer_id),
        amount=25,
        reserved_at_ms=world.now_ms(),
        request=request_to_json(request),
    )
    await world.book.reserve(original, slot_for("usr_b", "k1"), reservation, world.now_ms())
    retried, created = await world.desk.refund("tr_paid", "usr_b", "k1", None)
    assert (retried.id, retried.amount, created) == (request.transfer_id, 25, True)
    assert (await world.original()).refund_reserved == 25  # reserved once


async def test_a_settlement_lost_in_a_crash_is_made_by_the_keeper(world: World) -> None:
    async def crashed(_: Transfer) -> bool:
        raise ConnectionError("the process died before settling")

    world.coordinator.settle_terminal_with(crashed)
    refund, _ = await world.desk.refund("tr_paid", "usr_b", "k1", 60)
    await run_refund_to_the_end(world, refund.id, StepOutcome.DEBITED)
    assert (await world.original()).refunded_amount == 0  # not settled yet
    world.clock.now += timedelta(milliseconds=GRACE_MS)
    assert await world.keeper.sweep_once() == 1
    original = await world.original()
    assert (original.refund_reserved, original.refunded_amount, original.reservations) == (
        60,
        60,
        {},
    )
    assert world.book.due_ms["tr_paid"] is None  # nothing left to look at


async def test_the_keeper_leaves_a_refund_in_flight_alone_and_looks_again_later(
    world: World,
) -> None:
    await world.desk.refund("tr_paid", "usr_b", "k1", 10)
    world.clock.now += timedelta(milliseconds=GRACE_MS)
    assert await world.keeper.sweep_once() == 0
    assert world.book.due_ms["tr_paid"] == world.now_ms() + GRACE_MS
    assert (await world.original()).refund_reserved == 10
