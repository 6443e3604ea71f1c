"""The coordinator's rules, with in-memory twins for storage and a recording publisher."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from orchestrator_support import POLICY, SilentFeed

from payflow_contracts import Envelope, MessagePayload
from payflow_contracts.events import TransferEvent
from payflow_contracts.saga import SagaCommand, SagaStep, StepOutcome, StepReply
from payflow_contracts.streams import StreamNames
from payflow_orchestrator.adapters.memory import InMemoryFaultRuleStore, InMemoryTransferRepository
from payflow_orchestrator.coordinator import TransferCoordinator, TransferRequest
from payflow_orchestrator.domain.faults import FaultRule
from payflow_orchestrator.domain.saga_machine import SagaKind, SagaState
from payflow_orchestrator.domain.transfer import apply_reply

STREAMS = StreamNames("t")
# A pinned instant is fine here: the coordinator reads the injected clock below, and its twins are
# in memory, with no TTL or token expiry measured against the wall clock.
FIXED_T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class RecordingPublisher:
    def __init__(self) -> None:
        self.sent: list[tuple[str, MessagePayload]] = []

    async def publish(self, stream: str, payload: MessagePayload, **_: Any) -> Envelope:
        self.sent.append((stream, payload))
        return Envelope.wrap(payload)

    def commands(self) -> list[SagaStep]:
        return [p.step for _, p in self.sent if isinstance(p, SagaCommand)]

    def events(self) -> list[str]:
        return [p.event_type for _, p in self.sent if isinstance(p, TransferEvent)]


class Clock:
    def __init__(self) -> None:
        self.now = FIXED_T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world() -> tuple[
    TransferCoordinator,
    RecordingPublisher,
    Clock,
    InMemoryTransferRepository,
    InMemoryFaultRuleStore,
]:
    repo = InMemoryTransferRepository()
    rules = InMemoryFaultRuleStore()
    publisher = RecordingPublisher()
    clock = Clock()
    coordinator = TransferCoordinator(
        transfers=repo,
        fault_rules=rules,
        publisher=publisher,
        live=SilentFeed(),
        streams=STREAMS,
        policy=POLICY,
        faults_enabled=True,
        clock=clock,
    )
    return coordinator, publisher, clock, repo, rules


def request(key: str = "k1", kind: SagaKind = SagaKind.TRANSFER) -> TransferRequest:
    return TransferRequest(
        kind=kind,
        initiator_id="usr_a",
        idempotency_key=key,
        source_wallet_id=None if kind == SagaKind.TOP_UP else "wal_a",
        destination_wallet_id="wal_b",
        amount=250,
        currency="EUR",
        description="rent",
        metadata={"case": "x"},
        owner_ids=["usr_a", "usr_b"],
    )


def reply(saga_id: str, step: SagaStep, outcome: StepOutcome) -> Envelope:
    return Envelope.wrap(StepReply(saga_id=saga_id, step=step, outcome=outcome), saga_id=saga_id)


async def test_starting_a_transfer_persists_it_then_sends_the_debit_and_the_created_event(
    world: Any,
) -> None:
    coordinator, publisher, _, repo, _ = world
    transfer, created = await coordinator.start(request())
    assert created
    assert publisher.commands() == [SagaStep.DEBIT_SOURCE]
    # The created event first: the first reply can never find it still owed.
    assert [sent[0] for sent in publisher.sent] == [
        STREAMS.transfer_events,
        STREAMS.wallet_commands,
    ]
    assert publisher.events() == ["transfer.created"]
    stored = await repo.get(transfer.id)
    assert stored.state == SagaState.DEBITING_SOURCE
    # The published flag is batched: written by the next flush (every sweeper tick).
    assert stored.events == {"created": "pending"}
    await coordinator.flush_event_flags()
    assert (await repo.get(transfer.id)).events == {"created": "published"}


async def test_a_reply_applies_to_the_remembered_saga_without_reading_it_again(
    world: Any,
) -> None:
    coordinator, _, _, repo, _ = world
    transfer, _ = await coordinator.start(request())
    reads = 0
    real_get = repo.get

    async def counting_get(transfer_id: str) -> Any:
        nonlocal reads
        reads += 1
        return await real_get(transfer_id)

    repo.get = counting_get
    await coordinator.on_reply(reply(transfer.id, SagaStep.DEBIT_SOURCE, StepOutcome.DEBITED))
    assert reads == 0
    assert (await real_get(transfer.id)).state == SagaState.POSTING_TRANSFER


async def test_a_stale_remembered_saga_loses_its_write_and_the_reply_applies_to_the_stored_one(
    world: Any,
) -> None:
    coordinator, _, clock, repo, _ = world
    transfer, _ = await coordinator.start(request())
    # Another replica applied the debit reply meanwhile: the stored saga moved on, and this
    # process still remembers the saga as it started it.
    moved, _ = apply_reply(transfer, SagaStep.DEBIT_SOURCE, StepOutcome.DEBITED, clock.now, POLICY)
    assert await repo.compare_and_set(moved, transfer.version)
    await coordinator.on_reply(reply(transfer.id, SagaStep.POST_TRANSFER, StepOutcome.POSTED))
    stored = await repo.get(transfer.id)
    assert stored.version == moved.version + 1
    assert stored.state == SagaState.CREDITING_DESTINATION


async def test_a_repeated_idempotency_key_returns_the_first_transfer_and_sends_nothing(
    world: Any,
) -> None:
    coordinator, publisher, _, _, _ = world
    first, _ = await coordinator.start(request())
    again, created = await coordinator.start(request())
    assert not created
    assert again.id == first.id
    assert publisher.commands() == [SagaStep.DEBIT_SOURCE]


async def test_a_happy_transfer_walks_debit_post_credit_and_completes_once(world: Any) -> None:
    coordinator, publisher, _, repo, _ = world
    transfer, _ = await coordinator.start(request())
    for step, outcome in [
        (SagaStep.DEBIT_SOURCE, StepOutcome.DEBITED),
        (SagaStep.POST_TRANSFER, StepOutcome.POSTED),
        (SagaStep.CREDIT_DESTINATION, StepOutcome.CREDITED),
    ]:
        await coordinator.on_reply(reply(transfer.id, step, outcome))
        await coordinator.on_reply(reply(transfer.id, step, outcome))  # duplicate: ignored
    stored = await repo.get(transfer.id)
    assert stored.state == SagaState.COMPLETED
    assert publisher.commands() == [
        SagaStep.DEBIT_SOURCE,
        SagaStep.POST_TRANSFER,
        SagaStep.CREDIT_DESTINATION,
    ]
    assert publisher.events() == ["transfer.created", "transfer.completed"]
    assert [h.state for h in stored.history] == [
        SagaState.DEBITING_SOURCE,
        SagaState.POSTING_TRANSFER,
        SagaState.CREDITING_DESTINATION,
        SagaState.COMPLETED,
    ]


async def test_a_late_reply_for_an_earlier_step_changes_nothing(world: Any) -> None:
    coordinator, _publisher, _, repo, _ = world
    transfer, _ = await coordinator.start(request())
    await coordinator.on_reply(reply(transfer.id, SagaStep.DEBIT_SOURCE, StepOutcome.DEBITED))
    before = await repo.get(transfer.id)
    await coordinator.on_reply(
        reply(transfer.id, SagaStep.DEBIT_SOURCE, StepOutcome.INSUFFICIENT_FUNDS)
    )
    assert await repo.get(transfer.id) == before


async def test_the_sweeper_resends_an_unanswered_step_then_abandons_it_and_compensates(
    world: Any,
) -> None:
    coordinator, publisher, clock, repo, _ = world
    transfer, _ = await coordinator.start(request())
    for _ in range(POLICY.forward_max_sends - 1):
        clock.now += POLICY.step_timeout + timedelta(seconds=1)
        assert await coordinator.sweep_once() == 1
    assert publisher.commands() == [SagaStep.DEBIT_SOURCE] * POLICY.forward_max_sends
    clock.now += POLICY.step_timeout + timedelta(seconds=1)
    await coordinator.sweep_once()
    stored = await repo.get(transfer.id)
    assert stored.state == SagaState.REFUNDING_SOURCE
    assert stored.failure_code.value == "step_timeout"
    assert publisher.commands()[-1] == SagaStep.REFUND_SOURCE


async def test_a_compensation_is_resent_forever_with_growing_gaps(world: Any) -> None:
    coordinator, publisher, clock, repo, _ = world
    transfer, _ = await coordinator.start(request())
    await coordinator.on_reply(reply(transfer.id, SagaStep.DEBIT_SOURCE, StepOutcome.DEBITED))
    await coordinator.on_reply(
        reply(transfer.id, SagaStep.POST_TRANSFER, StepOutcome.LEDGER_REJECTED)
    )
    gaps = []
    for _ in range(12):
        stored = await repo.get(transfer.id)
        gaps.append(stored.step_deadline - clock.now)
        clock.now = stored.step_deadline + timedelta(milliseconds=1)
        assert await coordinator.sweep_once() == 1
    stored = await repo.get(transfer.id)
    assert stored.state == SagaState.REFUNDING_SOURCE
    assert publisher.commands().count(SagaStep.REFUND_SOURCE) == 13
    assert gaps[-1] > gaps[0]
    assert "re-sent (attempt 13)" in stored.history[-1].reason
    # Twelve re-sends leave one history line, not twelve.
    assert sum("re-sent" in h.reason for h in stored.history) == 1
    await coordinator.on_reply(reply(transfer.id, SagaStep.REFUND_SOURCE, StepOutcome.REFUNDED))
    final = await repo.get(transfer.id)
    assert final.state == SagaState.COMPENSATED
    assert final.failure_code.value == "ledger_rejected"


async def test_events_still_owed_after_a_crash_are_republished_by_the_sweeper(world: Any) -> None:
    coordinator, publisher, clock, repo, _ = world
    transfer, _ = await coordinator.start(request())
    # A crash between the state write and the event publish leaves the event pending.
    await coordinator.on_reply(
        reply(transfer.id, SagaStep.DEBIT_SOURCE, StepOutcome.INSUFFICIENT_FUNDS)
    )
    stored = await repo.get(transfer.id)
    forgotten = replace(stored, events={**stored.events, "failed": "pending"})
    repo._items[transfer.id] = forgotten
    publisher.sent.clear()
    clock.now += timedelta(seconds=5)
    # The process that crashed is gone, and with it the flags it had not written: a new one.
    coordinator = TransferCoordinator(
        transfers=repo,
        fault_rules=InMemoryFaultRuleStore(),
        publisher=publisher,
        live=SilentFeed(),
        streams=STREAMS,
        policy=POLICY,
        faults_enabled=True,
        clock=clock,
    )
    await coordinator.sweep_once()
    assert publisher.events() == ["transfer.failed"]
    event = publisher.sent[0][1]
    assert isinstance(event, TransferEvent)
    assert event.transfer.status == "failed"
    assert event.owner_ids == ["usr_a", "usr_b"]
    await coordinator.sweep_once()
    assert publisher.events() == ["transfer.failed"]


async def test_a_fault_rule_travels_in_the_command_of_its_step_only(world: Any) -> None:
    coordinator, publisher, _, _, rules = world
    await rules.add(FaultRule(id="flt_1", owner_id="usr_a", step="credit", mode="reject"))
    transfer, _ = await coordinator.start(request())
    await coordinator.on_reply(reply(transfer.id, SagaStep.DEBIT_SOURCE, StepOutcome.DEBITED))
    await coordinator.on_reply(reply(transfer.id, SagaStep.POST_TRANSFER, StepOutcome.POSTED))
    commands = [p for _, p in publisher.sent if isinstance(p, SagaCommand)]
    assert [c.fault.mode if c.fault else None for c in commands] == [None, None, "reject"]


async def test_a_fault_rule_with_unmatched_metadata_does_nothing(world: Any) -> None:
    coordinator, publisher, _, _, rules = world
    await rules.add(
        FaultRule(
            id="flt_1", owner_id="usr_a", step="debit", mode="reject", match_metadata={"case": "y"}
        )
    )
    await coordinator.start(request())
    commands = [p for _, p in publisher.sent if isinstance(p, SagaCommand)]
    assert commands[0].fault is None


async def test_a_top_up_starts_with_the_ledger_posting(world: Any) -> None:
    coordinator, publisher, _, _, _ = world
    await coordinator.start(request(kind=SagaKind.TOP_UP))
    assert publisher.commands() == [SagaStep.POST_TOP_UP]
    assert publisher.sent[-1][0] == STREAMS.ledger_commands


async def test_a_refund_runs_the_transfer_table_and_names_the_transfer_it_returns(
    world: Any,
) -> None:
    coordinator, publisher, _, _, _ = world
    refund_request = TransferRequest(
        kind=SagaKind.REFUND,
        initiator_id="usr_b",
        idempotency_key="refund of tr_original",
        source_wallet_id="wal_b",
        destination_wallet_id="wal_a",
        amount=250,
        currency="EUR",
        description=None,
        metadata={},
        owner_ids=["usr_a", "usr_b"],
        refund_of="tr_original",
    )
    refund, _ = await coordinator.start(refund_request)
    again, created = await coordinator.start(refund_request)
    assert not created
    assert again.id == refund.id
    assert refund.refund_of == "tr_original"
    [(_, command)] = [(s, p) for s, p in publisher.sent if isinstance(p, SagaCommand)]
    assert command.step == SagaStep.DEBIT_SOURCE
    assert command.wallet_id == "wal_b"  # type: ignore[attr-defined]


async def test_a_known_key_with_a_different_request_is_refused_not_answered(world: Any) -> None:
    from payflow_orchestrator.domain.errors import IdempotencyKeyReused

    coordinator, publisher, _, _, _ = world
    await coordinator.start(request(key="k1"))
    other = TransferRequest(**{**request(key="k1").__dict__, "amount": 5_000})
    with pytest.raises(IdempotencyKeyReused):
        await coordinator.start(other)
    top_up = TransferRequest(**{**request(key="k1", kind=SagaKind.TOP_UP).__dict__})
    with pytest.raises(IdempotencyKeyReused):
        await coordinator.start(top_up)
    assert publisher.commands() == [SagaStep.DEBIT_SOURCE]


async def test_a_reply_during_a_flag_flush_never_publishes_an_event_again(world: Any) -> None:
    coordinator, publisher, _, repo, _ = world
    transfer, _ = await coordinator.start(request())
    writing, release = asyncio.Event(), asyncio.Event()
    real_mark = repo.mark_events_published

    async def slow_mark(flags: Any) -> None:
        writing.set()
        await release.wait()  # the flush's write is on its way to the store
        await real_mark(flags)

    repo.mark_events_published = slow_mark
    coordinator._recent.clear()  # the reply must read the store, where `created` is pending
    flush = asyncio.create_task(coordinator.flush_event_flags())
    await writing.wait()
    await coordinator.on_reply(reply(transfer.id, SagaStep.DEBIT_SOURCE, StepOutcome.DEBITED))
    release.set()
    await flush
    assert publisher.events() == ["transfer.created"]
