"""Payments of payment links through the coordinator, with in-memory twins: the link is held for
the payment, counted when it completes (with `payment_link.paid`), given back when it fails; the
payment carries the link's id and the platform's fee."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from orchestrator_support import POLICY, Clock, RecordingPublisher, SilentFeed, reply

from payflow_contracts.saga import CreditWallet, PostTransfer, SagaStep, StepOutcome
from payflow_contracts.streams import StreamNames
from payflow_orchestrator.adapters.memory import (
    InMemoryFaultRuleStore,
    InMemoryPaymentLinkStore,
    InMemoryTransferRepository,
)
from payflow_orchestrator.coordinator import TransferCoordinator
from payflow_orchestrator.domain.errors import IdempotencyKeyReused, LinkRefused
from payflow_orchestrator.domain.fees import FeePlan, FeeTerms
from payflow_orchestrator.domain.payment_links import PaymentLink
from payflow_orchestrator.domain.saga_machine import SagaState
from payflow_orchestrator.domain.transfer import Transfer
from payflow_orchestrator.payment_links import PaymentLinks
from payflow_orchestrator.ports import ReservationParents
from payflow_orchestrator.reservations import ReservationKeeper

GRACE_MS = 10_000
T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)  # the twins and the desk read the injected clock
PLAN = FeePlan(terms={"USD": FeeTerms(basis_points=290, fixed=30)})


@dataclass
class World:
    coordinator: TransferCoordinator
    publisher: RecordingPublisher
    clock: Clock
    transfers: InMemoryTransferRepository
    links: InMemoryPaymentLinkStore
    desk: PaymentLinks
    keeper: ReservationKeeper

    async def link(self, link_id: str) -> PaymentLink:
        found = await self.links.get(link_id)
        assert found is not None
        return found

    async def new_link(self, **fields: object) -> PaymentLink:
        link, _ = await self.desk.create(
            owner_id="usr_m",
            idempotency_key=f"link-{len(self.links._links)}",
            fields={
                "wallet_id": "wal_m",
                "currency": "USD",
                "amount": 1_000,
                "merchant_name": "Mugs Ltd",
                **fields,
            },
        )
        return link

    async def pay(self, link_id: str, payer: str = "usr_p", key: str = "pay-1") -> Transfer:
        transfer, _ = await self.desk.pay(
            link_id,
            payer_id=payer,
            idempotency_key=key,
            source_wallet_id=f"wal_{payer}",
            amount=None,
        )
        return transfer

    async def finish(self, transfer_id: str, debit: StepOutcome = StepOutcome.DEBITED) -> None:
        await self.coordinator.on_reply(reply(transfer_id, SagaStep.DEBIT_SOURCE, debit))
        if debit is StepOutcome.DEBITED:
            for step, outcome in (
                (SagaStep.POST_TRANSFER, StepOutcome.POSTED),
                (SagaStep.CREDIT_DESTINATION, StepOutcome.CREDITED),
            ):
                await self.coordinator.on_reply(reply(transfer_id, step, outcome))


@pytest.fixture
def world() -> World:
    transfers = InMemoryTransferRepository()
    publisher = RecordingPublisher()
    clock = Clock(T0)
    coordinator = TransferCoordinator(
        transfers=transfers,
        fault_rules=InMemoryFaultRuleStore(),
        publisher=publisher,
        live=SilentFeed(),
        streams=StreamNames("t"),
        policy=POLICY,
        faults_enabled=True,
        clock=clock,
    )
    links = InMemoryPaymentLinkStore()

    def parents_of(child: Transfer) -> tuple[ReservationParents, str] | None:
        return (links, child.payment_link_id) if child.payment_link_id else None

    keeper = ReservationKeeper(transfers, parents_of, [links], coordinator, GRACE_MS, clock.ms)
    coordinator.settle_terminal_with(keeper.settle_child)
    desk = PaymentLinks(links, transfers, coordinator, PLAN, 100_000_000, GRACE_MS, clock)
    return World(coordinator, publisher, clock, transfers, links, desk, keeper)


async def test_a_payment_carries_the_link_and_the_fee_and_credits_the_merchant_net(
    world: World,
) -> None:
    link = await world.new_link(metadata={"sku": "mug"}, description="a mug")
    payment = await world.pay(link.id)
    assert (payment.payment_link_id, payment.amount, payment.fee) == (link.id, 1_000, 59)
    assert (payment.source_wallet_id, payment.destination_wallet_id) == ("wal_usr_p", "wal_m")
    assert payment.owner_ids == ["usr_m", "usr_p"]
    assert (payment.description, payment.metadata) == ("a mug", {"sku": "mug"})
    await world.finish(payment.id)
    commands = world.publisher.commands()
    [posting] = [c for c in commands if isinstance(c, PostTransfer)]
    [credit] = [c for c in commands if isinstance(c, CreditWallet)]
    assert (posting.amount, posting.fee, credit.amount) == (1_000, 59, 941)
    stored = await world.link(link.id)
    assert (stored.paid_count, stored.paid_amount, stored.reservations_open) == (1, 1_000, 0)
    [paid] = world.publisher.events("payment_link.paid")
    assert paid.transfer_id == payment.id
    assert paid.transfer.payment_link_id == link.id
    assert (paid.transfer.fee, paid.transfer.net_amount) == (59, 941)


async def test_a_single_use_link_takes_one_payer_at_a_time_and_one_payment_for_good(
    world: World,
) -> None:
    link = await world.new_link(single_use=True)
    first = await world.pay(link.id, "usr_p", "k")
    with pytest.raises(LinkRefused) as busy:
        await world.pay(link.id, "usr_q", "k")
    assert (busy.value.status, busy.value.code) == (409, "payment_link_busy")
    await world.finish(first.id, StepOutcome.INSUFFICIENT_FUNDS)  # fails: the link is free again
    assert (await world.link(link.id)).reservations_open == 0
    assert world.publisher.events("payment_link.paid") == []
    second = await world.pay(link.id, "usr_q", "k")
    await world.finish(second.id)
    with pytest.raises(LinkRefused) as used:
        await world.pay(link.id, "usr_r", "k")
    assert (used.value.status, used.value.code) == (409, "payment_link_used")


async def test_concurrent_payers_of_a_single_use_link_start_exactly_one_payment(
    world: World,
) -> None:
    link = await world.new_link(single_use=True)

    async def attempt(i: int) -> str:
        try:
            return (await world.pay(link.id, f"usr_{i}", "k")).id
        except LinkRefused as refused:
            return refused.code

    outcomes = await asyncio.gather(*(attempt(i) for i in range(20)))
    started = [o for o in outcomes if o.startswith("tr_")]
    assert len(started) == 1
    assert set(outcomes) - set(started) == {"payment_link_busy"}


async def test_a_repeated_key_answers_its_payment_and_a_changed_request_is_refused(
    world: World,
) -> None:
    link = await world.new_link(amount=None, min_amount=100, max_amount=5_000)
    payment, created = await world.desk.pay(
        link.id, payer_id="usr_p", idempotency_key="k", source_wallet_id="wal_p", amount=700
    )
    again, created_again = await world.desk.pay(
        link.id, payer_id="usr_p", idempotency_key="k", source_wallet_id="wal_p", amount=700
    )
    assert created and not created_again and again.id == payment.id
    with pytest.raises(IdempotencyKeyReused):
        await world.desk.pay(
            link.id, payer_id="usr_p", idempotency_key="k", source_wallet_id="wal_p", amount=701
        )
    with pytest.raises(IdempotencyKeyReused):
        await world.desk.pay(
            link.id, payer_id="usr_p", idempotency_key="k", source_wallet_id="wal_x", amount=None
        )


async def test_an_expired_or_deactivated_link_refuses_and_starts_nothing(world: World) -> None:
    expiring = await world.new_link(expires_at=T0 + timedelta(minutes=1))
    world.clock.now = T0 + timedelta(minutes=1)
    with pytest.raises(LinkRefused) as expired:
        await world.pay(expiring.id)
    assert (expired.value.status, expired.value.code) == (410, "payment_link_expired")
    other = await world.new_link()
    await world.desk.deactivate(other.id, "usr_m")
    with pytest.raises(LinkRefused) as inactive:
        await world.pay(other.id, key="k2")
    assert (inactive.value.status, inactive.value.code) == (410, "payment_link_inactive")
    assert world.transfers.items == {}


async def test_a_link_created_twice_with_one_key_is_one_link(world: World) -> None:
    fields = {"wallet_id": "wal_m", "currency": "USD", "amount": 500, "merchant_name": "M"}
    first, created = await world.desk.create(owner_id="usr_m", idempotency_key="k", fields=fields)
    again, created_again = await world.desk.create(
        owner_id="usr_m", idempotency_key="k", fields={**fields, "merchant_name": "M renamed"}
    )
    assert created and not created_again and again.id == first.id
    with pytest.raises(IdempotencyKeyReused):
        await world.desk.create(
            owner_id="usr_m", idempotency_key="k", fields={**fields, "amount": 501}
        )


async def test_a_payment_whose_request_died_after_holding_the_link_is_started_by_the_keeper(
    world: World,
) -> None:
    link = await world.new_link(single_use=True)
    original_start = world.coordinator.start

    async def dies(*_: object, **__: object) -> object:
        raise ConnectionError("the process died after holding the link")

    world.coordinator.start = dies  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await world.pay(link.id)
    world.coordinator.start = original_start  # type: ignore[method-assign]
    assert world.transfers.items == {}
    world.clock.now += timedelta(milliseconds=GRACE_MS)
    assert await world.keeper.sweep_once() == 1
    [payment] = world.transfers.items.values()
    assert payment.payment_link_id == link.id and payment.state is SagaState.DEBITING_SOURCE
    await world.finish(payment.id)
    assert (await world.link(link.id)).paid_count == 1
