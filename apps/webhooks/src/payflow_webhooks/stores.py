"""The MongoDB collections of the webhooks database, shared by the service and its worker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from beanie import Document

from payflow_webhooks.delivery_store import (
    AttemptDocument,
    DeliveryDocument,
    DeliveryStore,
    MongoDeliveryStore,
)
from payflow_webhooks.endpoint_store import (
    CachedEndpointStore,
    EndpointDocument,
    EndpointStore,
    MongoEndpointStore,
)
from payflow_webhooks.event_store import EventDocument, EventStore, MongoEventStore

DOCUMENT_MODELS: list[type[Document]] = [
    EndpointDocument,
    EventDocument,
    DeliveryDocument,
    AttemptDocument,
]


@dataclass(frozen=True)
class WebhookStores:
    endpoints: EndpointStore
    events: EventStore
    deliveries: DeliveryStore


def mongo_stores(
    redis: Any, endpoints_generation_key: str, remembered_max_age_s: float = 30.0
) -> WebhookStores:
    """The Mongo adapters; call after Beanie is initialised (the service lifespan does it).
    Endpoints are remembered between changes, which every process signals through Redis."""
    return WebhookStores(
        endpoints=CachedEndpointStore(
            MongoEndpointStore(EndpointDocument.get_pymongo_collection()),
            redis,
            endpoints_generation_key,
            max_age_s=remembered_max_age_s,
        ),
        events=MongoEventStore(EventDocument.get_pymongo_collection()),
        deliveries=MongoDeliveryStore(
            DeliveryDocument.get_pymongo_collection(), AttemptDocument.get_pymongo_collection()
        ),
    )
