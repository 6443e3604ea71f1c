"""Typed FastAPI dependencies: the components the composition root put in the runtime."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request

from payflow_service import ProblemError
from payflow_webhooks.delivery_queue import DeliveryQueue
from payflow_webhooks.delivery_store import DeliveryStore
from payflow_webhooks.endpoint_store import EndpointStore
from payflow_webhooks.event_store import EventStore
from payflow_webhooks.replay_quota import ReplayQuota
from payflow_webhooks.settings import WebhooksSettings
from payflow_webhooks.url_guard import UrlGuard


def _component(request: Request, name: str) -> Any:
    return request.app.state.runtime.components[name]


async def _endpoints(request: Request) -> EndpointStore:
    return _component(request, "endpoints")  # type: ignore[no-any-return]


async def _events(request: Request) -> EventStore:
    return _component(request, "events")  # type: ignore[no-any-return]


async def _deliveries(request: Request) -> DeliveryStore:
    return _component(request, "deliveries")  # type: ignore[no-any-return]


async def _queue(request: Request) -> DeliveryQueue:
    return _component(request, "queue")  # type: ignore[no-any-return]


async def _replays(request: Request) -> ReplayQuota:
    return _component(request, "replays")  # type: ignore[no-any-return]


async def _guard(request: Request) -> UrlGuard:
    return _component(request, "guard")  # type: ignore[no-any-return]


async def _settings(request: Request) -> WebhooksSettings:
    return request.app.state.runtime.settings  # type: ignore[no-any-return]


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
Limit = Annotated[int, Query(ge=1, le=100)]


def invalid_cursor() -> ProblemError:
    return ProblemError(400, "invalid_cursor", "The cursor is not valid.")
