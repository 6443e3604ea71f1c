"""Turns transfer events from the stream into stored events and one delivery per subscriber.

Every step is idempotent, so a redelivered stream message (the consumer is at least once) only
re-enqueues what is still pending: the event id is the document id, each (event, endpoint) pair
has one delivery, the first attempts of an event's newly opened deliveries are one ARQ job whose
id derives from the event id, and a delivery opened before (a redelivered event) gets its own job,
whose id is the delivery id.
"""

from __future__ import annotations

import logging

from payflow_contracts import Envelope, new_id
from payflow_contracts.clock import Clock, to_millis, utc_now
from payflow_contracts.events import TransferEvent
from payflow_messaging import StreamConsumer
from payflow_observability import inject_traceparent
from payflow_webhooks.domain.delivery import Delivery, open_delivery
from payflow_webhooks.domain.event import WebhookEvent, delivery_body
from payflow_webhooks.metrics import DELIVERIES_OPENED, EVENTS_RECEIVED
from payflow_webhooks.ports import DeliveryQueue, DeliveryStore, EndpointStore, EventStore

logger = logging.getLogger(__name__)


def register_handlers(consumer: StreamConsumer, intake: TransferEventIntake) -> None:
    """The webhooks service consumes one message type: `transfer.event.v1`."""
    consumer.register(TransferEvent.MESSAGE_TYPE, intake.on_transfer_event)


class TransferEventIntake:
    def __init__(
        self,
        *,
        events: EventStore,
        endpoints: EndpointStore,
        deliveries: DeliveryStore,
        queue: DeliveryQueue,
        clock: Clock = utc_now,
    ) -> None:
        self._events = events
        self._endpoints = endpoints
        self._deliveries = deliveries
        self._queue = queue
        self._clock = clock

    async def on_transfer_event(self, envelope: Envelope) -> None:
        """Stream handler for `transfer.event.v1`."""
        await self.fan_out(envelope)

    async def fan_out(self, envelope: Envelope) -> list[Delivery]:
        """Store the event, open its deliveries and enqueue them; answers those deliveries."""
        payload = envelope.open(TransferEvent)
        event = await self._events.add(
            WebhookEvent(
                id=payload.event_id,
                type=payload.event_type,
                transfer_id=payload.transfer_id,
                owner_ids=tuple(dict.fromkeys(payload.owner_ids)),
                data=payload.transfer.model_dump(mode="json"),
                created_at=to_millis(envelope.occurred_at),
            )
        )
        # The consumer's span is current here: jobs join the transfer's trace through it.
        traceparent = inject_traceparent().get("traceparent") or envelope.traceparent
        subscribers = await self._endpoints.subscribed(event.owner_ids, event.type)
        body = delivery_body(event).decode() if subscribers else None
        now = self._clock()
        candidates = [
            open_delivery(
                delivery_id=new_id("del"),
                event_id=event.id,
                event_type=event.type,
                endpoint_id=endpoint.id,
                owner_id=endpoint.owner_id,
                event_created_at=event.created_at,
                traceparent=traceparent,
                now=now,
                body=body,
            )
            for endpoint in subscribers
        ]
        # One write opens them all; a redelivered event gets back the deliveries it opened.
        deliveries = await self._deliveries.add_all(candidates)
        opened = [d for d, c in zip(deliveries, candidates, strict=True) if d is c]
        DELIVERIES_OPENED.inc(len(opened))
        opened_ids = {d.id for d in opened}
        together: set[str] = set()
        if len(opened) > 1 and await self._queue.enqueue_opened(event.id, opened, traceparent):
            together = opened_ids
        for delivery in deliveries:
            if not delivery.is_pending or delivery.id in together:
                continue
            if delivery.id not in opened_ids and await self._queue.is_scheduled(delivery):
                # A redelivered event: a job (its own, or the event's first-attempts job, still
                # queued or running) will attempt it; a second one would send it twice at once.
                continue
            await self._queue.enqueue(delivery, delivery.traceparent)
        EVENTS_RECEIVED.labels(event.type).inc()  # once its deliveries are open and queued
        logger.info(
            "event %s (%s) fanned out to %d endpoint(s)",
            event.id,
            event.type,
            len(deliveries),
            extra={"event_id": event.id, "transfer_id": event.transfer_id},
        )
        return deliveries
