"""The ARQ job functions: a delivery's attempt, and the first attempts of an event's newly
opened deliveries, each inside a span of the transfer's trace."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

from arq import Retry
from opentelemetry import trace

from payflow_observability import extract_context
from payflow_webhooks.domain.delivery import Delivery, from_snapshot
from payflow_webhooks.ports import DeliveryQueue
from payflow_webhooks.worker.courier import WebhookCourier

logger = logging.getLogger(__name__)
tracer = trace.get_tracer("payflow.webhooks")

COURIER = "courier"
"""The key of the `WebhookCourier` in the ARQ worker's context."""
QUEUE = "queue"
"""The key of the `DeliveryQueue` (follow-up jobs) in the ARQ worker's context."""


def delivery_span(
    delivery_id: str, traceparent: str | None, job_try: int
) -> AbstractContextManager[trace.Span]:
    """The span of one delivery's attempt, a child of the transfer's trace."""
    return tracer.start_as_current_span(
        "webhook deliver",
        context=extract_context(traceparent),
        kind=trace.SpanKind.CONSUMER,
        attributes={
            "messaging.system": "arq",
            "messaging.operation.type": "process",
            "payflow.delivery_id": delivery_id,
            "payflow.job_try": job_try,
        },
    )


async def deliver_webhook(
    ctx: dict[str, Any],
    delivery_id: str,
    traceparent: str | None = None,
    enqueued: dict[str, Any] | None = None,
) -> None:
    """Attempt a delivery; `Retry(defer=...)` asks ARQ to run the job again after the delay.

    On the job's first run, the delivery as it was enqueued stands for a read of the store
    (a later run, a retry or a run after a crash, reads it); on every run it names the endpoint
    and owner whose share of the worker's slots the attempt needs."""
    courier: WebhookCourier = ctx[COURIER]
    job_try = int(ctx.get("job_try", 1))
    known = None
    if enqueued is not None:
        try:
            known = from_snapshot(enqueued)
        except (KeyError, TypeError, ValueError):
            logger.warning("delivery %s: unreadable job snapshot, reading the store", delivery_id)
        else:
            if known.id != delivery_id:
                known = None
    with delivery_span(delivery_id, traceparent, job_try):
        retry_in = await courier.attempt(delivery_id, known, current=job_try == 1)
    if retry_in is not None:
        raise Retry(defer=retry_in)


async def deliver_opened(
    ctx: dict[str, Any],
    event_id: str,
    traceparent: str | None,
    enqueued: list[dict[str, Any]],
) -> None:
    """The first attempt of each of an event's newly opened deliveries, at once; each one that
    needs another attempt (a failure, a busy endpoint) gets a job of its own.

    On the job's first run the deliveries as enqueued stand for reads of the store, as in
    `deliver_webhook`. A later run (the worker died mid-job) attempts nothing itself: it hands
    each delivery to a job of its own, which ARQ refuses where one exists already (a follow-up
    the first run made), so no delivery is sent by two jobs at once."""
    courier: WebhookCourier = ctx[COURIER]
    queue: DeliveryQueue = ctx[QUEUE]
    current = int(ctx.get("job_try", 1)) == 1
    deliveries: list[Delivery] = []
    for data in enqueued:
        try:
            deliveries.append(from_snapshot(data))
        except (KeyError, TypeError, ValueError):
            logger.warning("event %s: an unreadable delivery in its job, skipped", event_id)

    async def first_attempt(delivery: Delivery) -> None:
        with delivery_span(delivery.id, traceparent, int(ctx.get("job_try", 1))):
            if current:
                retry_in, unchanged = await courier.attempt_opened(delivery)
            else:
                retry_in, unchanged = timedelta(0), False
        if retry_in is not None:
            await queue.follow_up(
                delivery.id,
                traceparent,
                delivery if unchanged else None,
                max(retry_in, timedelta(0)),
            )

    results = await asyncio.gather(*(first_attempt(d) for d in deliveries), return_exceptions=True)
    for delivery, result in zip(deliveries, results, strict=True):
        if isinstance(result, Exception):
            # Left pending: the sweeper gives it a job of its own once it is overdue.
            logger.error("delivery %s: first attempt failed: %r", delivery.id, result)
