"""The ARQ job function: one delivery attempt inside a span of the transfer's trace."""

from __future__ import annotations

import logging
from typing import Any

from arq import Retry
from opentelemetry import trace

from payflow_observability import extract_context
from payflow_webhooks.domain.delivery import from_snapshot
from payflow_webhooks.worker.courier import WebhookCourier

logger = logging.getLogger(__name__)
tracer = trace.get_tracer("payflow.webhooks")

COURIER = "courier"
"""The key of the `WebhookCourier` in the ARQ worker's context."""


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
    with tracer.start_as_current_span(
        "webhook deliver",
        context=extract_context(traceparent),
        kind=trace.SpanKind.CONSUMER,
        attributes={
            "messaging.system": "arq",
            "messaging.operation.type": "process",
            "payflow.delivery_id": delivery_id,
            "payflow.job_try": job_try,
        },
    ):
        retry_in = await courier.attempt(delivery_id, known, current=job_try == 1)
    if retry_in is not None:
        raise Retry(defer=retry_in)
