"""The transfer coordinator: starts sagas, applies replies, sweeps overdue steps, owes events.

Persist first, then publish: every decision is written with a compare-and-set on the saga's
version before any command or event leaves. If the process dies in between, the sweeper finds the
saga past its step deadline and re-sends; participants answer repeats with their first reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from opentelemetry import trace
from redis.exceptions import RedisError

from payflow_contracts import Envelope, new_id
from payflow_contracts.clock import Clock, utc_now
from payflow_contracts.events import TransferEvent, transfer_event_id
from payflow_contracts.saga import SagaStep, StepReply
from payflow_contracts.streams import StreamNames
from payflow_observability import extract_context, inject_traceparent
from payflow_orchestrator import metrics
from payflow_orchestrator.domain.commands import command_for, stream_for
from payflow_orchestrator.domain.errors import IdempotencyKeyReused, StaleReply
from payflow_orchestrator.domain.faults import FaultRule, faults_for
from payflow_orchestrator.domain.saga_machine import (
    SagaKind,
    Transition,
    is_compensating,
    public_status,
)
from payflow_orchestrator.domain.transfer import (
    EventKey,
    GiveUp,
    Resend,
    TimingPolicy,
    Transfer,
    apply_reply,
    apply_resend,
    apply_timeout,
    due_action,
    mark_event_published,
    open_transfer,
    public_view,
)
from payflow_orchestrator.ports import (
    DuplicateTransfer,
    FaultRuleStore,
    LiveFeed,
    Publisher,
    TransferRepository,
)
from payflow_service.loops import run_periodically

logger = logging.getLogger(__name__)
tracer = trace.get_tracer("payflow.orchestrator")

GAUGES_INTERVAL_S = 5.0
"""How often the sweeper refreshes the in-flight and past-deadline gauges."""

EVENT_TYPES: dict[EventKey, str] = {
    "created": "transfer.created",
    "completed": "transfer.completed",
    "failed": "transfer.failed",
    "refunded": "transfer.refunded",
    "link_paid": "payment_link.paid",
}


@dataclass(frozen=True)
class TransferRequest:
    kind: SagaKind
    initiator_id: str
    idempotency_key: str
    source_wallet_id: str | None
    destination_wallet_id: str
    amount: int
    currency: str
    description: str | None
    metadata: dict[str, str]
    owner_ids: list[str]
    refund_of: str | None = None
    transfer_id: str | None = None
    """The saga's id when chosen beforehand (a reservation names its child saga)."""
    fee: int = 0
    """The platform's fee out of `amount` (payment-link payments)."""
    payment_link_id: str | None = None


def request_to_json(request: TransferRequest) -> dict[str, Any]:
    return {**asdict(request), "kind": request.kind.value}


def request_from_json(data: Mapping[str, Any]) -> TransferRequest:
    return TransferRequest(**{**data, "kind": SagaKind(data["kind"])})


class TransferCoordinator:
    def __init__(
        self,
        *,
        transfers: TransferRepository,
        fault_rules: FaultRuleStore,
        publisher: Publisher,
        live: LiveFeed,
        streams: StreamNames,
        policy: TimingPolicy,
        faults_enabled: bool,
        clock: Clock = utc_now,
        recent_capacity: int = 10_000,
    ) -> None:
        self._transfers = transfers
        self._fault_rules = fault_rules
        self._publisher = publisher
        self._live = live
        self._streams = streams
        self._policy = policy
        self._faults_enabled = faults_enabled
        self._clock = clock
        # The latest version this process wrote of each saga in flight: a reply applies to it
        # without reading the store first. A stale copy (another replica moved the saga) only
        # loses its compare-and-set, and the reply is applied again to a fresh read.
        self._recent: OrderedDict[str, Transfer] = OrderedDict()
        self._recent_capacity = recent_capacity
        # Events published whose flags are not yet written. A flag rides along with the saga's
        # next compare-and-set, or, for a saga with no next write (a terminal event), goes in
        # one batched write per sweeper tick. A crash loses only flags, so the sweeper publishes
        # those events again, under the same event id, which consumers treat as a repeat.
        self._unflushed: dict[str, set[EventKey]] = {}
        self._flushing: dict[str, set[EventKey]] = {}
        """Flags taken by a flush whose write has not returned yet: still known published."""
        # Settles the reservation a child saga (a refund, a link payment) was started under, once
        # the saga is terminal; the reservation keeper sweeps whatever a crash leaves unsettled.
        self._settle: Callable[[Transfer], Awaitable[bool]] | None = None

    def settle_terminal_with(self, settle: Callable[[Transfer], Awaitable[bool]]) -> None:
        self._settle = settle

    # ------------------------------------------------------------ starting a saga

    async def start(self, request: TransferRequest) -> tuple[Transfer, bool]:
        """Open and persist a saga, then send its first command. Returns (transfer, created);
        a repeated (initiator, idempotency key) returns the existing transfer, created=False."""
        transfer_id = request.transfer_id or new_id("tr")
        rules: list[FaultRule] = []
        if self._faults_enabled:
            rules = await self._fault_rules.for_owner(request.initiator_id)
        traceparent = inject_traceparent().get("traceparent")
        transfer = open_transfer(
            transfer_id=transfer_id,
            kind=request.kind,
            initiator_id=request.initiator_id,
            idempotency_key=request.idempotency_key,
            source_wallet_id=request.source_wallet_id,
            destination_wallet_id=request.destination_wallet_id,
            amount=request.amount,
            currency=request.currency,
            description=request.description,
            metadata=request.metadata,
            owner_ids=request.owner_ids,
            now=self._clock(),
            policy=self._policy,
            traceparent=traceparent,
            faults=faults_for(rules, transfer_id, request.kind, request.metadata),
            refund_of=request.refund_of,
            fee=request.fee,
            payment_link_id=request.payment_link_id,
        )
        try:
            await self._transfers.add(transfer)
        except DuplicateTransfer as duplicate:
            if not duplicate.existing.answers(transfer.request_fingerprint):
                raise IdempotencyKeyReused(request.idempotency_key) from None
            return duplicate.existing, False
        metrics.TRANSFERS_STARTED.labels(transfer.kind.value).inc()
        span = trace.get_current_span()
        span.set_attribute("payflow.transfer_id", transfer.id)
        span.set_attribute("payflow.saga.state", transfer.state.value)
        step = transfer.awaited_step
        assert step is not None
        # Remembered and its `created` event out before the first command: the first reply
        # can then find it in memory, and never owes that event a second time.
        self._remember(transfer)
        self._remember(await self._publish_events(transfer))  # the same version, flags marked
        await self._send(transfer, step)
        await self._announce(transfer)
        return transfer, True

    async def start_child(self, request: Mapping[str, Any]) -> Transfer:
        """Start the saga a reservation holds (`reservations.ChildStarter`)."""
        transfer, _ = await self.start(request_from_json(request))
        return transfer

    # ------------------------------------------------------------ replies

    async def on_reply(self, envelope: Envelope) -> None:
        reply = envelope.open(StepReply)
        with tracer.start_as_current_span(
            f"saga {reply.step.value} -> {reply.outcome.value}",
            attributes={
                "payflow.transfer_id": reply.saga_id,
                "payflow.saga.step": reply.step.value,
                "payflow.saga.outcome": reply.outcome.value,
            },
        ) as span:
            remembered = self._recent.pop(reply.saga_id, None)
            for _ in range(20):
                transfer, remembered = remembered, None
                from_memory = transfer is not None
                if transfer is None:
                    transfer = await self._transfers.get(reply.saga_id)
                if transfer is None:
                    logger.error("reply for unknown saga %s ignored", reply.saga_id)
                    return
                transfer = self._with_known_flags(transfer)
                now = self._clock()
                try:
                    advanced, transition = apply_reply(
                        transfer, reply.step, reply.outcome, now, self._policy, reply.reason
                    )
                except StaleReply:
                    if from_memory:
                        continue  # judged on a remembered copy: judge again on the store's
                    metrics.STALE_REPLIES.inc()
                    logger.info(
                        "stale reply %s/%s for %s in state %s ignored",
                        reply.step.value,
                        reply.outcome.value,
                        transfer.id,
                        transfer.state.value,
                    )
                    return
                if await self._commit(transfer, advanced, transition):
                    span.set_attribute("payflow.saga.state", advanced.state.value)
                    if transfer.step_started_at is not None:
                        metrics.STEP_DURATION.labels(reply.step.value).observe(
                            max(0.0, (now - transfer.step_started_at).total_seconds())
                        )
                    await self._after_transition(advanced, transition)
                    return
            raise RuntimeError(f"saga {reply.saga_id}: too much contention applying a reply")

    async def _commit(self, before: Transfer, after: Transfer, transition: Transition) -> bool:
        added: list[EventKey] = [k for k in after.pending_events() if k not in before.events]
        published = sorted(self._unflushed.get(after.id, ()))
        won = await self._transfers.compare_and_set(after, before.version, added, published)
        if won:
            if published:
                self._unflushed.pop(after.id, None)
            metrics.TRANSITIONS.labels(
                before.kind.value, before.state.value, after.state.value
            ).inc()
            if after.is_terminal:
                status = public_status(after.state)
                metrics.TRANSFERS_TERMINAL.labels(
                    after.kind.value,
                    status.value,
                    after.failure_code.value if after.failure_code else "",
                ).inc()
            logger.info(
                "saga %s: %s -> %s",
                after.id,
                before.state.value,
                after.state.value,
                extra={"transfer_id": after.id, "reason": transition.reason},
            )
        return won

    async def _after_transition(self, transfer: Transfer, transition: Transition) -> None:
        for step in transition.commands:
            await self._send(transfer, step)
        transfer = await self._publish_events(transfer)
        if transfer.is_terminal:
            self._recent.pop(transfer.id, None)
        else:
            self._remember(transfer)
        await self._announce(transfer)

    def _remember(self, transfer: Transfer) -> None:
        known = self._recent.get(transfer.id)
        if known is not None and known.version > transfer.version:
            return  # a reply overtook the caller: keep the newer copy
        if known is not None and known.version == transfer.version:
            transfer = self._with_known_flags(transfer)
        self._recent[transfer.id] = transfer
        self._recent.move_to_end(transfer.id)
        if len(self._recent) > self._recent_capacity:
            self._recent.popitem(last=False)

    # ------------------------------------------------------------ sending

    async def _send(self, transfer: Transfer, step: SagaStep, attempt: int = 1) -> None:
        compensating = is_compensating(transfer.state)
        name = f"compensate {step.value}" if compensating else f"step {step.value}"
        with tracer.start_as_current_span(
            name,
            attributes={
                "payflow.transfer_id": transfer.id,
                "payflow.saga.state": transfer.state.value,
                "payflow.saga.step": step.value,
                "payflow.saga.attempt": attempt,
                "payflow.saga.compensation": compensating,
            },
        ):
            command = command_for(transfer, step, self._faults_enabled)
            await self._publisher.publish(
                stream_for(step, self._streams), command, saga_id=transfer.id
            )
        if compensating:
            metrics.COMPENSATIONS.labels(step.value).inc()

    async def _publish_events(self, transfer: Transfer) -> Transfer:
        """Publish the events the saga owes; the flags follow in the next batch (see init).

        A terminal child saga settles its reservation first, so that an event about its parent
        (`transfer.refunded`) shows the parent with this child counted."""
        pending = transfer.pending_events()
        if pending and transfer.is_terminal and self._settle is not None:
            try:
                await self._settle(transfer)
            except Exception:  # the reservation keeper settles it later
                logger.warning("settling %s's reservation failed", transfer.id, exc_info=True)
        for key in pending:
            event_type = EVENT_TYPES[key]
            about, view = transfer, public_view(transfer)
            if key == "refunded" and transfer.refund_of:
                original = await self._transfers.get(transfer.refund_of)
                if original is None:
                    logger.error("refund %s of an unknown transfer", transfer.id)
                else:
                    about, view = original, public_view(original)
            event = TransferEvent(
                event_id=transfer_event_id(transfer.id, event_type),
                event_type=event_type,
                transfer_id=about.id,
                owner_ids=transfer.owner_ids,
                transfer=view,
            )
            await self._publisher.publish(
                self._streams.transfer_events,
                event,
                saga_id=transfer.id,
                message_id=f"msg_{event.event_id}",
            )
            self._unflushed.setdefault(transfer.id, set()).add(key)
            transfer = mark_event_published(transfer, key)
        return transfer

    def _with_known_flags(self, transfer: Transfer) -> Transfer:
        """The stored saga with the flags this process published but has not written yet."""
        for known in (self._unflushed, self._flushing):
            for key in known.get(transfer.id, ()):
                transfer = mark_event_published(transfer, key)
        return transfer

    async def flush_event_flags(self) -> None:
        """Write the flags of the events published since the last flush, in one batch."""
        unflushed, self._unflushed = self._unflushed, {}
        flags = [(tid, key) for tid, keys in unflushed.items() for key in sorted(keys)]
        if not flags:
            return
        self._flushing = unflushed
        try:
            await self._transfers.mark_events_published(flags)
        except Exception:
            for tid, keys in unflushed.items():
                self._unflushed.setdefault(tid, set()).update(keys)
            raise
        finally:
            self._flushing = {}

    async def _announce(self, transfer: Transfer) -> None:
        try:
            await self._live.announce(transfer.id, public_view(transfer))
        except Exception:  # live updates are best effort by design (SSE only)
            logger.warning("live update for %s not sent", transfer.id, exc_info=True)

    # ------------------------------------------------------------ sweeping

    async def sweep_once(self, batch: int = 200) -> int:
        """Re-send or abandon every overdue step, and publish events still owed. Returns the
        number of sagas acted on."""
        await self.flush_event_flags()
        now = self._clock()
        acted = 0
        for transfer in await self._transfers.due(now, batch):
            action = due_action(transfer, now, self._policy)
            if action is None:
                continue
            with tracer.start_as_current_span(
                "saga sweep",
                context=extract_context(transfer.traceparent),
                attributes={
                    "payflow.transfer_id": transfer.id,
                    "payflow.saga.state": transfer.state.value,
                },
            ):
                try:
                    if isinstance(action, Resend):
                        acted += await self._resend(transfer, action, now)
                    elif isinstance(action, GiveUp):
                        acted += await self._give_up(transfer, now)
                except Exception:  # one saga's failure must not hold up every other one
                    logger.exception("sweeping saga %s failed; retried next round", transfer.id)
        for transfer in await self._transfers.with_pending_events(
            now - timedelta(seconds=2), batch
        ):
            with contextlib.suppress(RedisError):
                await self._publish_events(transfer)
                acted += 1
        await self.flush_event_flags()
        return acted

    async def _resend(self, transfer: Transfer, action: Resend, now: datetime) -> int:
        updated = apply_resend(transfer, now, self._policy)
        if not await self._transfers.compare_and_set(updated, transfer.version):
            return 0  # another sweeper or a reply got there first
        metrics.RESENDS.labels(action.step.value).inc()
        logger.warning(
            "saga %s: no reply for %s, re-sent (attempt %d)",
            transfer.id,
            action.step.value,
            action.attempt,
        )
        await self._send(updated, action.step, action.attempt)
        return 1

    async def _give_up(self, transfer: Transfer, now: datetime) -> int:
        advanced, transition = apply_timeout(transfer, now, self._policy)
        if not await self._commit(transfer, advanced, transition):
            return 0
        await self._after_transition(advanced, transition)
        return 1

    async def refresh_gauges(self) -> None:
        metrics.IN_FLIGHT.set(await self._transfers.count_active())
        metrics.PAST_DEADLINE.set(await self._transfers.count_past_deadline(self._clock()))

    async def run_sweeper(self, interval_s: float, stop: asyncio.Event) -> None:
        """Sweep every `interval_s` until `stop` is set, and refresh the gauges every ~5 s; a
        failed round is retried next time."""
        gauges_at = 0.0

        async def sweep_round() -> None:
            nonlocal gauges_at
            await self.sweep_once()
            if time.monotonic() - gauges_at > GAUGES_INTERVAL_S:
                await self.refresh_gauges()
                gauges_at = time.monotonic()

        await run_periodically(sweep_round, interval_s=interval_s, stop=stop, what="saga sweep")
