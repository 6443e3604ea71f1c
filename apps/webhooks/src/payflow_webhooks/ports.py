"""What the webhooks use cases need from the outside: stores, the delivery queue, the replay
quota, a resolver and a sender. Adapters: `adapters/` (MongoDB, Redis, ARQ, DNS, in memory).

A `page` answers up to `limit + 1` items, newest first, older than `after` (the position a
cursor stands for); `payflow_contracts.paging.cut_page` makes the page and its next cursor.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from payflow_contracts.paging import PagePosition
from payflow_webhooks.domain.delivery import Attempt, AttemptResult, Delivery, DeliveryStatus
from payflow_webhooks.domain.endpoint import DisabledReason, WebhookEndpoint
from payflow_webhooks.domain.event import WebhookEvent
from payflow_webhooks.domain.url_rules import IPAddress


class EndpointStore(Protocol):
    async def add(self, endpoint: WebhookEndpoint, cap: int | None = None) -> None:
        """Store a new endpoint; with `cap`, refuse with `QuotaExceeded` when its owner holds
        `cap` endpoints already (exactly, however many are created at once)."""
        ...

    async def get(self, endpoint_id: str, owner_id: str | None = None) -> WebhookEndpoint | None:
        """The endpoint; with `owner_id`, only when it belongs to that owner."""
        ...

    async def page(
        self, owner_id: str, limit: int, after: PagePosition | None
    ) -> list[WebhookEndpoint]: ...
    async def compare_and_set(self, endpoint: WebhookEndpoint, expected_version: int) -> bool: ...
    async def delete(self, endpoint_id: str, owner_id: str) -> bool: ...
    async def subscribed(self, owner_ids: Sequence[str], event_type: str) -> list[WebhookEndpoint]:
        """Enabled endpoints of these owners that want this event type."""
        ...

    async def mark_failing(self, endpoint_id: str, since: datetime) -> bool:
        """Record the start of a failure run, unless one is already recorded."""
        ...

    async def clear_failing(self, endpoint_id: str, since: datetime) -> bool:
        """End the failure run that started at `since` (a newer run is left alone)."""
        ...

    async def disable(self, endpoint_id: str, reason: DisabledReason, now: datetime) -> bool:
        """Disable an enabled endpoint; False when it was not enabled (or is gone)."""
        ...


class EventStore(Protocol):
    async def add(self, event: WebhookEvent) -> WebhookEvent:
        """Store the event unless it is stored already; answer the stored one either way."""
        ...

    async def get(self, event_id: str, owner_id: str | None = None) -> WebhookEvent | None: ...
    async def page(
        self, owner_id: str, event_type: str | None, limit: int, after: PagePosition | None
    ) -> list[WebhookEvent]: ...


class DeliveryStore(Protocol):
    async def add(self, delivery: Delivery) -> Delivery:
        """Store a new delivery, or answer the one that exists for its (event, endpoint)."""
        ...

    async def add_all(self, deliveries: Sequence[Delivery]) -> list[Delivery]:
        """`add` for each of one event's deliveries, in one write: answers, in order, each one
        stored or the one that existed already for its (event, endpoint)."""
        ...

    async def get(self, delivery_id: str, owner_id: str | None = None) -> Delivery | None: ...
    async def compare_and_set(
        self, delivery: Delivery, expected_version: int, attempt: Attempt | None = None
    ) -> bool:
        """Store `delivery` if the stored one still has `expected_version`, and with it, in the
        same write, add `attempt` to the delivery's attempts; False (nothing written) if not."""
        ...

    async def page(
        self,
        endpoint_id: str,
        status: DeliveryStatus | None,
        limit: int,
        after: PagePosition | None,
    ) -> list[Delivery]: ...
    async def overdue(self, due_before: datetime, limit: int) -> list[Delivery]:
        """Pending deliveries whose next attempt was due before `due_before`, oldest first."""
        ...

    async def record_attempt(self, attempt: Attempt) -> None:
        """Add `attempt` to its delivery's attempts whatever the delivery's version (an attempt
        made by a job whose compare-and-set lost: the attempt still happened)."""
        ...

    async def attempts_of(self, delivery_ids: Sequence[str]) -> dict[str, list[Attempt]]:
        """Each delivery's attempts, oldest first."""
        ...


class DeliveryQueue(Protocol):
    async def enqueue(self, delivery: Delivery, traceparent: str | None) -> bool:
        """Make sure a job will attempt this delivery at its `next_attempt_at` (or now).

        True when a new job was enqueued, False when one existed already; an existing job that
        waits for later is brought forward to the delivery's due time.
        """
        ...

    async def enqueue_opened(
        self, event_id: str, deliveries: Sequence[Delivery], traceparent: str | None
    ) -> bool:
        """One job that makes the first attempt of each of an event's just-opened deliveries
        (one job's queue round trips instead of one per delivery); a delivery that needs another
        attempt then gets a job of its own (`follow_up`). False when that job existed already."""
        ...

    async def follow_up(
        self,
        delivery_id: str,
        traceparent: str | None,
        unchanged: Delivery | None,
        after: timedelta,
    ) -> bool:
        """A job of the delivery's own, `after` from now: its next attempt once the event's job
        has made the first. `unchanged` is the delivery when it is still as enqueued (its
        endpoint was busy), which spares the new job a read. False when one existed already."""
        ...

    async def is_scheduled(self, delivery: Delivery) -> bool:
        """Whether a job (the delivery's own, or its event's) will still attempt it."""
        ...


GiveBack = Callable[[], Awaitable[None]]


class ReplayQuota(Protocol):
    async def take(self, owner_id: str) -> GiveBack:
        """Counts one replay, or raises `QuotaSpent`; returns what gives the unit back."""
        ...


class HostResolver(Protocol):
    async def resolve(self, host: str, port: int) -> list[IPAddress]: ...


class Sender(Protocol):
    async def send(self, url: str, headers: dict[str, str], body: bytes) -> AttemptResult: ...
