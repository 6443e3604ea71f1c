"""Publishing envelopes on a stream, inside a producer span whose context travels along."""

from __future__ import annotations

import logging

from opentelemetry import propagate, trace
from redis.asyncio import Redis

from payflow_contracts import Envelope, MessagePayload
from payflow_messaging.metrics import MESSAGES_PUBLISHED
from payflow_messaging.signing import SIGNATURE_FIELD, BusSigner

logger = logging.getLogger(__name__)
tracer = trace.get_tracer("payflow.messaging")

ENVELOPE_FIELD = b"envelope"


class StreamPublisher:
    """Writes envelopes, each signed with the bus key (payflow_messaging.signing)."""

    def __init__(self, redis: Redis, signer: BusSigner) -> None:
        self._redis = redis
        self._signer = signer

    async def publish(
        self,
        stream: str,
        payload: MessagePayload,
        *,
        saga_id: str | None = None,
        causation_id: str | None = None,
        message_id: str | None = None,
    ) -> Envelope:
        with tracer.start_as_current_span(
            f"publish {payload.MESSAGE_TYPE}",
            kind=trace.SpanKind.PRODUCER,
            attributes={
                "messaging.system": "redis",
                "messaging.destination.name": stream,
                "messaging.message.type": payload.MESSAGE_TYPE,
                **({"payflow.transfer_id": saga_id} if saga_id else {}),
            },
        ):
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            envelope = Envelope.wrap(
                payload,
                saga_id=saga_id,
                causation_id=causation_id,
                traceparent=carrier.get("traceparent"),
                tracestate=carrier.get("tracestate"),
                message_id=message_id,
            )
            await self.publish_envelope(stream, envelope)
            return envelope

    async def publish_envelope(self, stream: str, envelope: Envelope) -> str:
        body = envelope.to_wire().encode()
        entry_id = await self._redis.xadd(
            stream, {ENVELOPE_FIELD: body, SIGNATURE_FIELD: self._signer.sign(stream, body)}
        )
        MESSAGES_PUBLISHED.labels(stream, envelope.type).inc()
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
