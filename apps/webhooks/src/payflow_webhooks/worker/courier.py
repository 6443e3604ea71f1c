"""Carries one delivery attempt through: load, sign, send, record, settle, update the endpoint.

The delivery record is the source of truth: a job that finds it settled does nothing, and every
change is a compare-and-set on the version it read, so a duplicate job or a concurrent replay
can never double-settle it.
"""

from __future__ import annotations

import logging
import random
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from opentelemetry import trace

from payflow_contracts.clock import Clock, utc_now
from payflow_webhooks.domain.delivery import (
    Attempt,
    AttemptVerdict,
    Delivery,
    EndpointChange,
    abandon_for_endpoint,
    settle_attempt,
)
from payflow_webhooks.domain.endpoint import DisabledReason, WebhookEndpoint
from payflow_webhooks.domain.event import delivery_body
from payflow_webhooks.domain.retry_policy import RetryPolicy
from payflow_webhooks.domain.signatures import delivery_headers
from payflow_webhooks.metrics import ATTEMPTS, BUSY_DEFERRALS, DELIVERIES, DELIVERY_LATENCY
from payflow_webhooks.ports import DeliveryStore, EndpointStore, EventStore, Sender
from payflow_webhooks.worker.fair_share import FairShare, busy_defer

logger = logging.getLogger(__name__)

EARLY_TOLERANCE = timedelta(milliseconds=500)
"""A job may start this much before the delivery's due time (clock and poll granularity)."""


class WebhookCourier:
    def __init__(
        self,
        *,
        endpoints: EndpointStore,
        events: EventStore,
        deliveries: DeliveryStore,
        sender: Sender,
        policy: RetryPolicy,
        disable_after: timedelta,
        clock: Clock = utc_now,
        spread: Callable[[], float] = random.random,
        share: FairShare | None = None,
    ) -> None:
        self._endpoints = endpoints
        self._events = events
        self._deliveries = deliveries
        self._sender = sender
        self._policy = policy
        self._disable_after = disable_after
        self._clock = clock
        self._spread = spread
        self._share = share

    async def attempt(
        self, delivery_id: str, known: Delivery | None = None, *, current: bool = True
    ) -> timedelta | None:
        """Make the delivery's next attempt if it is due; answers how long until the job should
        run again, or None when the delivery needs no more work.

        `known` is the delivery as its job was enqueued. When `current` (the job's first run) it
        stands for a read of the store: if it has changed since (a replay, another worker), the
        compare-and-set on its version refuses the settlement and the stored delivery decides,
        so at worst the receiver gets one more copy of the event, which webhooks allow (at least
        once, deduplicated by event id). On any run it says whose share of the worker's slots the
        delivery needs (its endpoint and owner never change), so a job of a busy endpoint waits
        without reading the store."""
        if known is None or self._share is None:
            return await self._attempt(delivery_id, known if current else None, take_share=True)
        if not self._share.try_take(known.endpoint_id, known.owner_id):
            return self._busy()
        try:
            return await self._attempt(delivery_id, known if current else None, take_share=False)
        finally:
            self._share.give_back(known.endpoint_id, known.owner_id)

    async def attempt_opened(self, delivery: Delivery) -> tuple[timedelta | None, bool]:
        """The first attempt of a delivery just opened, as its event's job has it: answers how
        long until its next attempt (None: no more work) and whether the delivery is surely
        still as given (its endpoint was busy: nothing was sent or written)."""
        if self._share is not None and not self._share.try_take(
            delivery.endpoint_id, delivery.owner_id
        ):
            return self._busy(), True
        try:
            return await self._attempt(delivery.id, delivery, take_share=False), False
        finally:
            if self._share is not None:
                self._share.give_back(delivery.endpoint_id, delivery.owner_id)

    def _busy(self) -> timedelta:
        # Its endpoint (or owner) has its share of this worker's slots: give the slot back to
        # other endpoints' jobs and look again in a moment.
        trace.get_current_span().set_attribute("payflow.webhook.skipped", "endpoint busy")
        BUSY_DEFERRALS.inc()
        return busy_defer(self._spread())

    async def _attempt(
        self, delivery_id: str, known: Delivery | None, *, take_share: bool
    ) -> timedelta | None:
        span = trace.get_current_span()
        delivery = known if known is not None else await self._deliveries.get(delivery_id)
        if delivery is None or not delivery.is_pending:
            span.set_attribute("payflow.webhook.skipped", "not pending")
            return None
        now = self._clock()
        due = delivery.next_attempt_at or now
        if due - now > EARLY_TOLERANCE:
            span.set_attribute("payflow.webhook.skipped", "not due")
            return due - now
        if self._share is None or not take_share:
            return await self._attempt_due(delivery, now)
        if not self._share.try_take(delivery.endpoint_id, delivery.owner_id):
            return self._busy()
        try:
            return await self._attempt_due(delivery, now)
        finally:
            self._share.give_back(delivery.endpoint_id, delivery.owner_id)

    async def _attempt_due(self, delivery: Delivery, now: datetime) -> timedelta | None:
        span = trace.get_current_span()
        endpoint = await self._endpoints.get(delivery.endpoint_id)
        if endpoint is None or not endpoint.enabled:
            reason = "the endpoint was deleted" if endpoint is None else "the endpoint is disabled"
            return await self._abandon(delivery, now, reason)
        if delivery.body is not None:
            body = delivery.body.encode()
        else:
            event = await self._events.get(delivery.event_id)
            if event is None:
                return await self._abandon(delivery, now, "the event is missing")
            body = delivery_body(event)
        headers = delivery_headers(
            endpoint.signing_secrets(now), delivery.event_id, int(now.timestamp()), body
        )
        span.set_attributes(
            {
                "payflow.delivery_id": delivery.id,
                "payflow.event_id": delivery.event_id,
                "payflow.endpoint_id": endpoint.id,
                "payflow.webhook.attempt": delivery.attempt_count + 1,
            }
        )
        result = await self._sender.send(endpoint.url, headers, body)
        attempt = Attempt(
            id=f"att_{secrets.token_hex(12)}",
            delivery_id=delivery.id,
            number=delivery.attempt_count + 1,
            at=result.at,
            status_code=result.status_code,
            duration_ms=result.duration_ms,
            error=result.error,
            response_body=result.response_body,
        )
        ATTEMPTS.labels(result.label).inc()
        verdict = settle_attempt(
            delivery,
            result,
            self._policy,
            failing_since=endpoint.failing_since,
            disable_after=self._disable_after,
            spread=self._spread(),
        )
        # The attempt is written with the settlement, in one write; if a replay changed the
        # delivery meanwhile, the attempt is added alone (it happened) and the stored one decides.
        if not await self._deliveries.compare_and_set(verdict.delivery, delivery.version, attempt):
            await self._deliveries.record_attempt(attempt)
            return await self._after_conflict(delivery.id)
        await self._change_endpoint(endpoint, verdict, result.at)
        DELIVERIES.labels(verdict.outcome).inc()
        span.set_attribute("payflow.webhook.outcome", verdict.outcome)
        if verdict.outcome == "succeeded":
            latency = (result.at - delivery.event_created_at).total_seconds()
            DELIVERY_LATENCY.observe(max(latency, 0.0))
        else:
            logger.info(
                "delivery %s attempt %d: %s (%s)",
                delivery.id,
                verdict.delivery.attempt_count,
                verdict.outcome,
                verdict.delivery.last_error,
                extra={"delivery_id": delivery.id, "endpoint_id": endpoint.id},
            )
        return verdict.retry_in

    async def _abandon(self, delivery: Delivery, now: datetime, reason: str) -> timedelta | None:
        if not await self._deliveries.compare_and_set(
            abandon_for_endpoint(delivery, now, reason), delivery.version
        ):
            return await self._after_conflict(delivery.id)
        DELIVERIES.labels("disabled").inc()
        logger.info("delivery %s abandoned: %s", delivery.id, reason)
        return None

    async def _after_conflict(self, delivery_id: str) -> timedelta | None:
        """Someone else (a replay) changed the delivery meanwhile: its new state decides."""
        current = await self._deliveries.get(delivery_id)
        if current is None or not current.is_pending:
            return None
        due = current.next_attempt_at or self._clock()
        return max(due - self._clock(), timedelta(0))

    async def _change_endpoint(
        self, endpoint: WebhookEndpoint, verdict: AttemptVerdict, at: datetime
    ) -> None:
        change = verdict.endpoint_change
        if change is EndpointChange.CLEAR_FAILING and endpoint.failing_since is not None:
            await self._endpoints.clear_failing(endpoint.id, endpoint.failing_since)
        elif change is EndpointChange.MARK_FAILING and endpoint.failing_since is None:
            await self._endpoints.mark_failing(endpoint.id, at)
        elif change in (EndpointChange.DISABLE_GONE, EndpointChange.DISABLE_FAILING_TOO_LONG):
            reason = (
                DisabledReason.RECEIVER_GONE
                if change is EndpointChange.DISABLE_GONE
                else DisabledReason.FAILING_TOO_LONG
            )
            if await self._endpoints.disable(endpoint.id, reason, at):
                logger.warning("endpoint %s disabled: %s", endpoint.id, reason.value)
