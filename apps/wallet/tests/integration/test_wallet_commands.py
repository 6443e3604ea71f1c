"""Wallet commands through the real stream, consumer and stores: at most once, never negative,
late steps refused, first reply replayed."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime
from typing import Any

import pytest

from payflow_contracts import Envelope
from payflow_contracts.clock import epoch_millis, utc_now
from payflow_contracts.saga import (
    CancelCredit,
    CreditWallet,
    DebitWallet,
    RefundWallet,
    SagaStep,
    StepOutcome,
)
from payflow_wallet.domain.operations import (
    Decide,
    Guard,
    OperationKind,
    OperationRequest,
    WalletChange,
    decide,
)
from payflow_wallet.domain.wallet import Mark, Verdict
from payflow_wallet.wallet_operations import WalletOperations

pytestmark = pytest.mark.integration

_STARTED: dict[str, datetime] = {}


def started(saga: str) -> datetime:
    """When `saga` began, as its orchestrator says on every command of it: fixed at first use."""
    return _STARTED.setdefault(saga, utc_now())


def debit(saga: str, wallet_id: str, amount: int, **kw: Any) -> DebitWallet:
    return DebitWallet(
        saga_id=saga,
        step=SagaStep.DEBIT_SOURCE,
        amount=amount,
        currency="USD",
        wallet_id=wallet_id,
        **{"saga_created_at": started(saga), **kw},
    )


def credit(saga: str, wallet_id: str, amount: int, **kw: Any) -> CreditWallet:
    return CreditWallet(
        saga_id=saga,
        step=SagaStep.CREDIT_DESTINATION,
        amount=amount,
        currency="USD",
        wallet_id=wallet_id,
        **{"saga_created_at": started(saga), **kw},
    )


def refund(saga: str, wallet_id: str, amount: int, **kw: Any) -> RefundWallet:
    return RefundWallet(
        saga_id=saga,
        step=SagaStep.REFUND_SOURCE,
        amount=amount,
        currency="USD",
        wallet_id=wallet_id,
        **{"saga_created_at": started(saga), **kw},
    )


def cancel_credit(saga: str, wallet_id: str, amount: int, **kw: Any) -> CancelCredit:
    return CancelCredit(
        saga_id=saga,
        step=SagaStep.CANCEL_CREDIT,
        amount=amount,
        currency="USD",
        wallet_id=wallet_id,
        **{"saga_created_at": started(saga), **kw},
    )


async def watch_lowest_balance(wallet: Any, wallet_id: str, stop: asyncio.Event) -> int:
    """The lowest balance seen by polling the stored wallet while `stop` is not set."""
    lowest = await wallet.balance(wallet_id)
    while not stop.is_set():
        stored = await wallet.components.wallets.get(wallet_id)
        lowest = min(lowest, stored.balance)
        await asyncio.sleep(0.005)
    return lowest


async def test_a_hundred_concurrent_debits_of_10_on_500_debit_exactly_50_and_never_go_below_zero(
    start_wallet: Any,
) -> None:
    async with start_wallet(command_concurrency=16) as wallet:
        wallet_id = await wallet.funded_wallet(500)
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch_lowest_balance(wallet, wallet_id, stop))
        sent = [await wallet.send(debit(f"tr_{i:03d}", wallet_id, 10)) for i in range(100)]
        replies = await wallet.replies_to(sent, timeout=60)
        stop.set()
        outcomes = [r.outcome for r in replies]
        assert outcomes.count(StepOutcome.DEBITED) == 50
        assert outcomes.count(StepOutcome.INSUFFICIENT_FUNDS) == 50
        assert await wallet.balance(wallet_id) == 0
        assert await watcher >= 0
        await wallet.components.pruner.prune_once()  # records are written off the hot path
        records = await wallet.components.operations.find(
            [f"tr_{i:03d}:debit_source" for i in range(100)]
        )
        assert sum(r.outcome is StepOutcome.DEBITED for r in records.values()) == 50


async def test_the_same_debit_delivered_twenty_times_at_once_takes_effect_once_with_identical_replies(
    wallet_service: Any,
) -> None:
    wallet_id = await wallet_service.funded_wallet(500)
    command = debit("tr_dup", wallet_id, 120)
    sent = await asyncio.gather(*(wallet_service.send(command) for _ in range(20)))
    replies = await wallet_service.replies_to(list(sent))
    assert len({r.model_dump_json() for r in replies}) == 1
    assert replies[0].outcome is StepOutcome.DEBITED
    assert await wallet_service.balance(wallet_id) == 380
    # Each reply answers its own delivery, as the orchestrator matches them.
    causes = {e.causation_id for e, _ in await wallet_service.all_replies()}
    assert {s.message_id for s in sent} <= causes


class SlowRecordReads:
    """The real operation log, slow to deliver what it read. It widens the window between a
    handler's read of the records and its write, where another delivery can decide, record,
    and have its mark pruned."""

    def __init__(self, log: Any) -> None:
        self._log = log

    async def find(self, operation_ids: Any) -> Any:
        found = await self._log.find(operation_ids)
        await asyncio.sleep(random.uniform(0, 0.02))
        return found

    async def record(self, record: Any) -> Any:
        return await self._log.record(record)

    async def record_all(self, records: Any) -> None:
        await self._log.record_all(records)


class SlowWalletReads:
    """The real wallet repository, slow to deliver what it read: a decision made on the wallet
    alone (no records read) has the same window for a prune to land in."""

    def __init__(self, wallets: Any) -> None:
        self._wallets = wallets

    async def get(self, wallet_id: str) -> Any:
        found = await self._wallets.get(wallet_id)
        await asyncio.sleep(random.uniform(0, 0.02))
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wallets, name)


@pytest.mark.parametrize("says_when", [True, False], ids=["saga-start-known", "saga-start-unknown"])
async def test_concurrent_duplicates_decide_once_even_while_marks_are_pruned_under_them(
    wallet_service: Any, says_when: bool
) -> None:
    """Twenty settlements of one debit at once, with the pruner dropping marks in a loop. When
    the command says when its saga began, the wallet alone decides, and `pruned_through_ms` in
    the guard stops a handler from deciding again on a mark pruned after its read; when it
    does not, the records are read and the marks epoch does."""
    wallet_id = await wallet_service.funded_wallet(10_000)
    components = wallet_service.components
    operations = WalletOperations(
        SlowWalletReads(components.wallets), SlowRecordReads(components.operations)
    )
    stop = asyncio.Event()

    async def prune_continuously() -> None:
        while not stop.is_set():
            await components.pruner.prune_once()
            await asyncio.sleep(0.001)

    pruning = asyncio.create_task(prune_continuously())
    for round_ in range(5):
        request = OperationRequest(
            kind=OperationKind.DEBIT,
            saga_id=f"tr_prune{round_}",
            step=SagaStep.DEBIT_SOURCE,
            wallet_id=wallet_id,
            amount=100,
            currency="USD",
            issued_ms=epoch_millis(utc_now()) if says_when else None,
        )
        records = await asyncio.gather(*(operations.settle(request) for _ in range(20)))
        assert {r.outcome for r in records} == {StepOutcome.DEBITED}
    stop.set()
    await pruning
    assert await wallet_service.balance(wallet_id) == 9_500


async def test_a_repeat_after_its_mark_is_pruned_gets_the_recorded_reply(
    wallet_service: Any,
) -> None:
    wallet_id = await wallet_service.funded_wallet(50)
    first = await wallet_service.reply_to(await wallet_service.send(debit("tr_p", wallet_id, 80)))
    assert first.outcome is StepOutcome.INSUFFICIENT_FUNDS
    await wallet_service.components.pruner.prune_once()
    stored = await wallet_service.components.wallets.get(wallet_id)
    assert dict(stored.marks) == {}
    # Funds arrive meanwhile: the repeat still answers what was decided the first time.
    await wallet_service.reply_to(await wallet_service.send(credit("tr_more", wallet_id, 100)))
    again = await wallet_service.reply_to(await wallet_service.send(debit("tr_p", wallet_id, 80)))
    assert again == first
    assert await wallet_service.balance(wallet_id) == 150


async def test_a_refund_before_its_debit_refuses_the_late_debit_and_moves_nothing(
    wallet_service: Any,
) -> None:
    wallet_id = await wallet_service.funded_wallet(500)
    refunded = await wallet_service.reply_to(
        await wallet_service.send(refund("tr_r", wallet_id, 200))
    )
    assert refunded.outcome is StepOutcome.DEBIT_CANCELLED
    late = await wallet_service.reply_to(await wallet_service.send(debit("tr_r", wallet_id, 200)))
    assert late.outcome is StepOutcome.SOURCE_UNAVAILABLE
    assert late.step is SagaStep.DEBIT_SOURCE
    assert late.reason is not None and "cancelled" in late.reason
    assert await wallet_service.balance(wallet_id) == 500
    # Both verdicts are permanent records, so they survive the pruning of the marks.
    await wallet_service.components.pruner.prune_once()
    again = await wallet_service.reply_to(await wallet_service.send(debit("tr_r", wallet_id, 200)))
    assert again == late
    assert await wallet_service.balance(wallet_id) == 500


async def test_a_refund_after_its_debit_returns_the_money_once(wallet_service: Any) -> None:
    wallet_id = await wallet_service.funded_wallet(500)
    debited = await wallet_service.reply_to(
        await wallet_service.send(debit("tr_x", wallet_id, 200))
    )
    assert debited.outcome is StepOutcome.DEBITED
    sent = await asyncio.gather(
        *(wallet_service.send(refund("tr_x", wallet_id, 200)) for _ in range(5))
    )
    replies = await wallet_service.replies_to(list(sent))
    assert {r.outcome for r in replies} == {StepOutcome.REFUNDED}
    assert await wallet_service.balance(wallet_id) == 500


async def test_debits_racing_their_refunds_always_end_with_the_money_back(
    wallet_service: Any,
) -> None:
    """Whichever of a debit and its refund lands first, the wallet ends where it started and
    the two replies agree: debited then refunded, or debit cancelled then the debit refused."""
    wallet_id = await wallet_service.funded_wallet(1_000)
    sagas = [f"tr_race{i}" for i in range(20)]
    sent = await asyncio.gather(
        *(
            wallet_service.send(c)
            for s in sagas
            for c in (debit(s, wallet_id, 50), refund(s, wallet_id, 50))
        )
    )
    replies = await wallet_service.replies_to(list(sent))
    for i in range(0, len(replies), 2):
        pair = (replies[i].outcome, replies[i + 1].outcome)
        assert pair in {
            (StepOutcome.DEBITED, StepOutcome.REFUNDED),
            (StepOutcome.SOURCE_UNAVAILABLE, StepOutcome.DEBIT_CANCELLED),
        }
    assert await wallet_service.balance(wallet_id) == 1_000


async def test_cancel_credit_before_the_credit_refuses_the_late_credit(wallet_service: Any) -> None:
    wallet_id = await wallet_service.create_wallet()
    cancelled = await wallet_service.reply_to(
        await wallet_service.send(cancel_credit("tr_c", wallet_id, 300))
    )
    assert cancelled.outcome is StepOutcome.CREDIT_CANCELLED
    late = await wallet_service.reply_to(await wallet_service.send(credit("tr_c", wallet_id, 300)))
    assert late.outcome is StepOutcome.DESTINATION_UNAVAILABLE
    assert await wallet_service.balance(wallet_id) == 0


async def test_cancel_credit_after_the_credit_reports_it_applied_and_keeps_it(
    wallet_service: Any,
) -> None:
    wallet_id = await wallet_service.create_wallet()
    credited = await wallet_service.reply_to(
        await wallet_service.send(credit("tr_k", wallet_id, 300))
    )
    assert credited.outcome is StepOutcome.CREDITED
    settled = await wallet_service.reply_to(
        await wallet_service.send(cancel_credit("tr_k", wallet_id, 300))
    )
    assert settled.outcome is StepOutcome.CREDIT_ALREADY_APPLIED
    assert await wallet_service.balance(wallet_id) == 300


async def test_a_frozen_wallet_refuses_a_credit_but_still_takes_a_refund(
    wallet_service: Any,
) -> None:
    wallet_id = await wallet_service.funded_wallet(500)
    debited = await wallet_service.reply_to(
        await wallet_service.send(debit("tr_f", wallet_id, 200))
    )
    assert debited.outcome is StepOutcome.DEBITED
    assert (
        await wallet_service.client.post(f"/internal/wallets/{wallet_id}/freeze")
    ).status_code == 200
    refused = await wallet_service.reply_to(
        await wallet_service.send(credit("tr_g", wallet_id, 100))
    )
    assert refused.outcome is StepOutcome.DESTINATION_UNAVAILABLE
    assert refused.reason == "the wallet is frozen"
    debit_refused = await wallet_service.reply_to(
        await wallet_service.send(debit("tr_h", wallet_id, 100))
    )
    assert debit_refused.outcome is StepOutcome.SOURCE_UNAVAILABLE
    refunded = await wallet_service.reply_to(
        await wallet_service.send(refund("tr_f", wallet_id, 200))
    )
    assert refunded.outcome is StepOutcome.REFUNDED
    assert await wallet_service.balance(wallet_id) == 500


async def test_commands_on_a_missing_wallet_are_refused_and_compensations_settle(
    wallet_service: Any,
) -> None:
    for command, outcome in [
        (debit("tr_m1", "wal_nope", 10), StepOutcome.SOURCE_UNAVAILABLE),
        (credit("tr_m2", "wal_nope", 10), StepOutcome.DESTINATION_UNAVAILABLE),
        (refund("tr_m3", "wal_nope", 10), StepOutcome.DEBIT_CANCELLED),
        (debit("tr_m3", "wal_nope", 10), StepOutcome.SOURCE_UNAVAILABLE),
        (refund("tr_m1", "wal_nope", 10), StepOutcome.DEBIT_CANCELLED),
    ]:
        reply = await wallet_service.reply_to(await wallet_service.send(command))
        assert reply.outcome is outcome


async def test_a_debit_in_another_currency_is_refused(wallet_service: Any) -> None:
    wallet_id = await wallet_service.funded_wallet(500)
    command = DebitWallet(
        saga_id="tr_eur", step=SagaStep.DEBIT_SOURCE, amount=10, currency="EUR", wallet_id=wallet_id
    )
    reply = await wallet_service.reply_to(await wallet_service.send(command))
    assert reply.outcome is StepOutcome.SOURCE_UNAVAILABLE
    assert await wallet_service.balance(wallet_id) == 500


async def test_a_crash_after_the_wallet_write_is_finished_by_the_redelivery(
    wallet_service: Any,
) -> None:
    """The process died after its guarded write and before the record and reply: the mark in
    the wallet is the decision, so the redelivered command records and replays it without
    moving money a second time."""
    wallet_id = await wallet_service.funded_wallet(500)
    wallets = wallet_service.components.wallets
    request = OperationRequest(
        kind=OperationKind.DEBIT,
        saga_id="tr_crash",
        step=SagaStep.DEBIT_SOURCE,
        wallet_id=wallet_id,
        amount=100,
        currency="USD",
    )
    decision = decide(request, await wallets.get(wallet_id), {}, utc_now())
    assert isinstance(decision, Decide)
    assert await wallets.apply(wallet_id, decision.guard, decision.change)
    assert await wallet_service.components.operations.find([request.operation_id]) == {}
    reply = await wallet_service.reply_to(
        await wallet_service.send(debit("tr_crash", wallet_id, 100))
    )
    assert reply.outcome is StepOutcome.DEBITED
    assert await wallet_service.balance(wallet_id) == 400


# ---------------------------------------------------------------- sandbox faults


async def test_a_reject_fault_refuses_the_step_and_is_recorded_like_a_real_refusal(
    wallet_service: Any,
) -> None:
    wallet_id = await wallet_service.funded_wallet(500)
    fault = {"rule_id": "flt_1", "mode": "reject"}
    refused = await wallet_service.reply_to(
        await wallet_service.send(debit("tr_rej", wallet_id, 10, fault=fault))
    )
    assert refused.outcome is StepOutcome.SOURCE_UNAVAILABLE
    assert refused.reason == "rejected by a sandbox fault rule"
    # The re-sent command (even without the fault) replays the recorded refusal.
    again = await wallet_service.reply_to(await wallet_service.send(debit("tr_rej", wallet_id, 10)))
    assert again == refused
    credit_refused = await wallet_service.reply_to(
        await wallet_service.send(credit("tr_rej2", wallet_id, 10, fault=fault))
    )
    assert credit_refused.outcome is StepOutcome.DESTINATION_UNAVAILABLE
    assert await wallet_service.balance(wallet_id) == 500


async def test_a_timeout_fault_is_acknowledged_and_does_nothing_at_all(wallet_service: Any) -> None:
    wallet_id = await wallet_service.funded_wallet(500)
    sent = await wallet_service.send(
        debit("tr_to", wallet_id, 10, fault={"rule_id": "flt_1", "mode": "timeout"})
    )
    # A later command is answered, so the consumer has been past the timed-out one.
    await wallet_service.reply_to(await wallet_service.send(credit("tr_after", wallet_id, 1)))
    await asyncio.sleep(0.3)
    assert [r for r in await wallet_service.all_replies() if r[1].saga_id == "tr_to"] == []
    assert await wallet_service.components.operations.find(["tr_to:debit_source"]) == {}
    assert await wallet_service.balance(wallet_id) == 501
    pending = await wallet_service.redis.xpending(
        wallet_service.settings.streams.wallet_commands, "wallet"
    )
    assert pending["pending"] == 0
    # The refund that follows the saga's timeout finds no debit and cancels it.
    reply = await wallet_service.reply_to(await wallet_service.send(refund("tr_to", wallet_id, 10)))
    assert reply.outcome is StepOutcome.DEBIT_CANCELLED
    # The debit re-sent (this time without its fault) is refused: it was cancelled.
    assert sent.open(DebitWallet).fault is not None
    late = await wallet_service.reply_to(await wallet_service.send(debit("tr_to", wallet_id, 10)))
    assert late.outcome is StepOutcome.SOURCE_UNAVAILABLE
    assert await wallet_service.balance(wallet_id) == 501


async def test_an_error_fault_leaves_the_command_pending_then_dead_letters_it_without_effect(
    start_wallet: Any,
) -> None:
    async with start_wallet(stream_claim_idle_ms=100, stream_max_deliveries=2) as wallet:
        wallet_id = await wallet.funded_wallet(500)
        await wallet.send(
            debit("tr_err", wallet_id, 10, fault={"rule_id": "flt_1", "mode": "error"})
        )
        dead_stream = wallet.settings.streams.wallet_commands + ":dead"
        for _ in range(200):
            if await wallet.redis.xlen(dead_stream):
                break
            await asyncio.sleep(0.05)
        dead = await wallet.redis.xrange(dead_stream)
        assert len(dead) == 1
        assert Envelope.from_wire(dead[0][1][b"envelope"]).saga_id == "tr_err"
        assert [r for r in await wallet.all_replies() if r[1].saga_id == "tr_err"] == []
        assert await wallet.components.operations.find(["tr_err:debit_source"]) == {}
        assert await wallet.balance(wallet_id) == 500


async def test_production_ignores_sandbox_faults(start_wallet: Any) -> None:
    async with start_wallet(
        env="production",
        internal_token="a-real-secret-token-0123456789",
        bus_signing_keys="a-real-bus-signing-key-0123456789abcdef",
    ) as wallet:
        wallet_id = await wallet.funded_wallet(500)
        for mode in ("reject", "timeout", "error"):
            reply = await wallet.reply_to(
                await wallet.send(
                    debit(f"tr_prod_{mode}", wallet_id, 10, fault={"rule_id": "f", "mode": mode})
                )
            )
            assert reply.outcome is StepOutcome.DEBITED
        assert await wallet.balance(wallet_id) == 470


async def test_a_compensation_carrying_a_fault_still_settles(wallet_service: Any) -> None:
    """Compensations never carry faults; one that did must not be stopped by it."""
    wallet_id = await wallet_service.funded_wallet(500)
    envelope = Envelope.wrap(
        RefundWallet.model_validate(
            {
                **refund("tr_cf", wallet_id, 10).model_dump(),
                "fault": {"rule_id": "f", "mode": "error"},
            }
        ),
        saga_id="tr_cf",
    )
    await wallet_service.components.handlers.refund_wallet(envelope)
    replies = [r for _, r in await wallet_service.all_replies() if r.saga_id == "tr_cf"]
    assert [r.outcome for r in replies] == [StepOutcome.DEBIT_CANCELLED]


# ---------------------------------------------------------------- marks and their records


async def test_a_decision_writes_the_wallet_alone_and_the_pruner_records_it_later(
    wallet_service: Any,
) -> None:
    """On the hot path the mark is the decision and carries its record; the pruner writes the
    record, then drops the mark and raises `pruned_through_ms` to the saga's start. A repeat
    issued no later than that reads the record and answers the first reply."""
    components = wallet_service.components
    wallet_id = await wallet_service.funded_wallet(500)
    first = await wallet_service.reply_to(await wallet_service.send(debit("tr_rec", wallet_id, 70)))
    assert first.outcome is StepOutcome.DEBITED
    marked = await components.wallets.get(wallet_id)
    assert marked.marks["tr_rec:debit_source"].carries_record
    assert await components.operations.find(["tr_rec:debit_source"]) == {}
    while "tr_rec:debit_source" in (await components.wallets.get(wallet_id)).marks:
        await components.pruner.prune_once()
    record = (await components.operations.find(["tr_rec:debit_source"]))["tr_rec:debit_source"]
    assert (record.outcome, record.amount, record.wallet_id) == (
        StepOutcome.DEBITED,
        70,
        wallet_id,
    )
    pruned = await components.wallets.get(wallet_id)
    assert pruned.pruned_through_ms >= epoch_millis(started("tr_rec"))
    again = await wallet_service.reply_to(await wallet_service.send(debit("tr_rec", wallet_id, 70)))
    assert again == first
    assert await wallet_service.balance(wallet_id) == 430


async def test_a_legacy_mark_is_recorded_by_its_repeat_and_pruned_only_once_recorded(
    wallet_service: Any,
) -> None:
    """A mark written by a wallet service from before marks carried their record (the verdict
    alone) whose process died before recording it: the pruner keeps it, the redelivered command
    replays and records it, and once pruned the wallet no longer knows what it forgot, so every
    later operation on it reads the records."""
    components = wallet_service.components
    wallet_id = await wallet_service.funded_wallet(500)
    wallet = await components.wallets.get(wallet_id)
    op = "tr_legacy:debit_source"
    assert await components.wallets.apply(
        wallet_id,
        Guard(wallet.marks_epoch, (op,), balance_at_least=100),
        WalletChange(-100, {op: Mark(Verdict.DEBITED)}),
    )
    components.wallet_operations._remembered.clear()  # a restarted process remembers nothing
    for _ in range(3):
        await components.pruner.prune_once()
    assert op in (await components.wallets.get(wallet_id)).marks
    reply = await wallet_service.reply_to(
        await wallet_service.send(debit("tr_legacy", wallet_id, 100, saga_created_at=None))
    )
    assert reply.outcome is StepOutcome.DEBITED
    assert await wallet_service.balance(wallet_id) == 400
    assert op in await components.operations.find([op])
    while op in (await components.wallets.get(wallet_id)).marks:
        await components.pruner.prune_once()
    assert (await components.wallets.get(wallet_id)).pruned_through_ms is None
    later = await wallet_service.reply_to(
        await wallet_service.send(debit("tr_after", wallet_id, 50))
    )
    assert later.outcome is StepOutcome.DEBITED
    repeat = await wallet_service.reply_to(
        await wallet_service.send(debit("tr_legacy", wallet_id, 100))
    )
    assert repeat == reply
    assert await wallet_service.balance(wallet_id) == 350
