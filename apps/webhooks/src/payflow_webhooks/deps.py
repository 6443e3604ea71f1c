"""Typed FastAPI dependencies over the service's `Components` (bootstrap.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from payflow_service.components import provider
from payflow_webhooks.bootstrap import Components
from payflow_webhooks.ports import (
    DeliveryQueue,
    DeliveryStore,
    EndpointStore,
    EventStore,
    ReplayQuota,
)
from payflow_webhooks.settings import WebhooksSettings
from payflow_webhooks.url_guard import UrlGuard

_components = provider(Components)
Comps = Annotated[Components, Depends(_components)]


async def _endpoints(c: Comps) -> EndpointStore:
    return c.endpoints


async def _events(c: Comps) -> EventStore:
    return c.events


async def _deliveries(c: Comps) -> DeliveryStore:
    return c.deliveries


async def _queue(c: Comps) -> DeliveryQueue:
    return c.queue


async def _replays(c: Comps) -> ReplayQuota:
    return c.replays


async def _guard(c: Comps) -> UrlGuard:
    return c.guard


async def _settings(c: Comps) -> WebhooksSettings:
    return c.settings


Endpoints = Annotated[EndpointStore, Depends(_endpoints)]
Events = Annotated[EventStore, Depends(_events)]
Deliveries = Annotated[DeliveryStore, Depends(_deliveries)]
Queue = Annotated[DeliveryQueue, Depends(_queue)]
Guard = Annotated[UrlGuard, Depends(_guard)]
Replays = Annotated[ReplayQuota, Depends(_replays)]
Settings = Annotated[WebhooksSettings, Depends(_settings)]

OwnerId = Annotated[
    str, Query(min_length=1, max_length=100, description="The user the call acts for")
]
