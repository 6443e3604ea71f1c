"""Composition root of the webhooks service: stores, URL guard, delivery queue, event consumer."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from payflow_contracts.events import TransferEvent
from payflow_contracts.streams import WEBHOOKS_GROUP
from payflow_messaging import ConsumerConfig, StreamConsumer
from payflow_service import ServiceRuntime, create_service_app
from payflow_webhooks.api import ROUTERS
from payflow_webhooks.delivery_queue import ArqDeliveryQueue, open_arq_pool, queue_name
from payflow_webhooks.event_intake import TransferEventIntake
from payflow_webhooks.settings import WebhooksSettings
from payflow_webhooks.stores import DOCUMENT_MODELS, mongo_stores
from payflow_webhooks.url_guard import SystemResolver, UrlGuard


def create_app(settings: WebhooksSettings | None = None) -> FastAPI:
    settings = settings or WebhooksSettings()

    @contextlib.asynccontextmanager
    async def compose(runtime: ServiceRuntime) -> AsyncIterator[None]:
        streams = settings.streams
        stores = mongo_stores(
            runtime.redis,
            settings.streams.key("webhook-endpoints-generation"),
            settings.remembered_max_age_s,
        )
        pool = await open_arq_pool(settings.redis_url, streams)
        queue = ArqDeliveryQueue(pool, queue_name(streams), settings.job_lifetime())
        guard = UrlGuard(allow_private=settings.private_urls_allowed, resolver=SystemResolver())
        intake = TransferEventIntake(
            events=stores.events,
            endpoints=stores.endpoints,
            deliveries=stores.deliveries,
            queue=queue,
        )
        consumer = StreamConsumer(
            runtime.redis,
            ConsumerConfig.from_settings(
                settings,
                stream=streams.transfer_events,
                group=WEBHOOKS_GROUP,
            ),
        )
        consumer.register(TransferEvent.MESSAGE_TYPE, intake.on_transfer_event)
        runtime.components.update(
            endpoints=stores.endpoints,
            events=stores.events,
            deliveries=stores.deliveries,
            queue=queue,
            guard=guard,
            intake=intake,
        )
        runtime.start_loop("transfer-events", consumer.run(runtime.stopping))
        try:
            yield
        finally:
            await pool.aclose()

    return create_service_app(
        service="webhooks",
        settings=settings,
        document_models=DOCUMENT_MODELS,
        routers=ROUTERS,
        compose=compose,
    )
