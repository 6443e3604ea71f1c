"""The ARQ job function: one delivery attempt inside a span of the transfer's trace."""

from __future__ import annotations

from typing import Any

from arq import Retry
from opentelemetry import trace

from payflow_observability import extract_context
from payflow_webhooks.worker.courier import WebhookCourier

tracer = trace.get_tracer("payflow.webhooks")

COURIER = "courier"
"""The key of the `WebhookCourier` in the ARQ worker's context."""


async def deliver_webhook(
    ctx: dict[str, Any], delivery_id: str, traceparent: str | None = None
) -> None:
    """Attempt a delivery; `Retry(defer=...)` asks ARQ to run the job again after the delay."""
    courier: WebhookCourier = ctx[COURIER]
    with tracer.start_as_current_span(
        "webhook deliver",
        context=extract_context(traceparent),
        kind=trace.SpanKind.CONSUMER,
        attributes={
            "messaging.system": "arq",
            "messaging.operation.type": "process",
            "payflow.delivery_id": delivery_id,
            "payflow.job_try": int(ctx.get("job_try", 1)),
        },
    ):
        retry_in = await courier.attempt(delivery_id)
    if retry_in is not None:
        raise Retry(defer=retry_in)
