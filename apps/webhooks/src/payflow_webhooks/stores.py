"""The MongoDB collections of the webhooks database, shared by the service and its worker."""

from __future__ import annotations

from dataclasses import dataclass

from beanie import Document

from payflow_webhooks.delivery_store import (
    AttemptDocument,
    DeliveryDocument,
    DeliveryStore,
    MongoDeliveryStore,
)
from payflow_webhooks.endpoint_store import EndpointDocument, EndpointStore, MongoEndpointStore
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


def mongo_stores() -> WebhookStores:
    """The Mongo adapters; call after Beanie is initialised (the service lifespan does it)."""
    return WebhookStores(
        endpoints=MongoEndpointStore(EndpointDocument.get_pymongo_collection()),
        events=MongoEventStore(EventDocument.get_pymongo_collection()),
        deliveries=MongoDeliveryStore(
            DeliveryDocument.get_pymongo_collection(), AttemptDocument.get_pymongo_collection()
        ),
    )
