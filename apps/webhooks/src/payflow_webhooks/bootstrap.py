"""Composition root of the webhooks service: stores, URL guard, delivery queue, event consumer.

The worker process has its own root (`worker/bootstrap.py`); both open the stores here.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from payflow_contracts.streams import WEBHOOKS_GROUP
from payflow_messaging import BusSigner, ConsumerConfig, StreamConsumer
from payflow_service import ServiceRuntime
from payflow_service.app import Compose
from payflow_webhooks.adapters.arq_queue import ArqDeliveryQueue, open_arq_pool, queue_name
from payflow_webhooks.adapters.dns import SystemResolver
from payflow_webhooks.adapters.mongo import (
    AttemptDocument,
    DeliveryDocument,
    EndpointDocument,
    EventDocument,
    MongoDeliveryStore,
    MongoEndpointStore,
    MongoEventStore,
)
from payflow_webhooks.adapters.redis import CachedEndpointStore, HourlyReplayQuota
from payflow_webhooks.handlers import TransferEventIntake, register_handlers
from payflow_webhooks.ports import (
    DeliveryQueue,
    DeliveryStore,
    EndpointStore,
    EventStore,
    ReplayQuota,
)
from payflow_webhooks.settings import WebhooksSettings, WebhooksWorkerSettings
from payflow_webhooks.url_guard import UrlGuard


@dataclass(frozen=True, slots=True)
class WebhookStores:
    endpoints: EndpointStore
    events: EventStore
    deliveries: DeliveryStore


def open_stores(redis: Any, settings: WebhooksWorkerSettings) -> WebhookStores:
    """The MongoDB stores, once Beanie is initialised (the service lifespan does it). Endpoints
    are remembered between changes, which every process signals through Redis."""
    return WebhookStores(
        endpoints=CachedEndpointStore(
            MongoEndpointStore(EndpointDocument.get_pymongo_collection()),
            redis,
            settings.streams.key("webhook-endpoints-generation"),
            max_age_s=settings.remembered_max_age_s,
        ),
        events=MongoEventStore(EventDocument.get_pymongo_collection()),
        deliveries=MongoDeliveryStore(
            DeliveryDocument.get_pymongo_collection(), AttemptDocument.get_pymongo_collection()
        ),
    )


def url_guard(settings: WebhooksWorkerSettings) -> UrlGuard:
    return UrlGuard(allow_private=settings.private_urls_allowed, resolver=SystemResolver())


@dataclass(frozen=True, slots=True)
class Components:
    settings: WebhooksSettings
    endpoints: EndpointStore
    events: EventStore
    deliveries: DeliveryStore
    queue: DeliveryQueue
    guard: UrlGuard
    replays: ReplayQuota
    intake: TransferEventIntake


def compose(settings: WebhooksSettings) -> Compose:
    """The service's root: the stores, the ARQ queue deliveries are enqueued on, the guard that
    vets endpoint URLs, and the consumer of transfer events (a loop of the runtime)."""

    @contextlib.asynccontextmanager
    async def components(runtime: ServiceRuntime) -> AsyncIterator[Components]:
        streams = settings.streams
        stores = open_stores(runtime.redis, settings)
        pool = await open_arq_pool(settings.redis_connection_url, streams)
        queue = ArqDeliveryQueue(pool, queue_name(streams), settings.job_lifetime())
        intake = TransferEventIntake(
            events=stores.events,
            endpoints=stores.endpoints,
            deliveries=stores.deliveries,
            queue=queue,
        )
        consumer = StreamConsumer(
            runtime.redis,
            ConsumerConfig.from_settings(
                settings, stream=streams.transfer_events, group=WEBHOOKS_GROUP
            ),
            BusSigner(settings.bus_keys()),
        )
        register_handlers(consumer, intake)
        runtime.start_loop("transfer-events", consumer.run(runtime.stopping))
        try:
            yield Components(
                settings=settings,
                endpoints=stores.endpoints,
                events=stores.events,
                deliveries=stores.deliveries,
                queue=queue,
                guard=url_guard(settings),
                replays=HourlyReplayQuota(
                    runtime.redis, settings.stream_prefix, settings.max_delivery_retries_per_hour
                ),
                intake=intake,
            )
        finally:
            await pool.aclose()

    return components
