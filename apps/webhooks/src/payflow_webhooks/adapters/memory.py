"""The in-memory twins of the MongoDB stores, for unit tests; both pass one contract suite
(tests/integration/test_store_contracts.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol, TypeVar

from payflow_contracts.paging import PagePosition
from payflow_service.quotas import QuotaExceeded
from payflow_webhooks.domain.delivery import Attempt, Delivery, DeliveryStatus
from payflow_webhooks.domain.endpoint import DisabledReason, EndpointStatus, WebhookEndpoint
from payflow_webhooks.domain.errors import DuplicateEndpoint
from payflow_webhooks.domain.event import WebhookEvent


class _Positioned(Protocol):
    @property
    def position(self) -> PagePosition: ...


P = TypeVar("P", bound=_Positioned)


def _newest_first(items: list[P], limit: int, after: PagePosition | None) -> list[P]:
    """What a store answers for a page: up to `limit + 1` items older than `after`, compared on
    the stored position key as the MongoDB adapters do (milliseconds, then id)."""
    ordered = sorted(items, key=lambda i: i.position.key, reverse=True)
    if after is not None:
        ordered = [i for i in ordered if i.position.key < after.key]
    return ordered[: limit + 1]


class InMemoryEndpointStore:
    def __init__(self) -> None:
        self._items: dict[str, WebhookEndpoint] = {}

    async def add(self, endpoint: WebhookEndpoint, cap: int | None = None) -> None:
        if endpoint.id in self._items:
            raise DuplicateEndpoint(f"endpoint {endpoint.id} exists already")
        held = sum(1 for e in self._items.values() if e.owner_id == endpoint.owner_id)
        if cap is not None and held >= cap:
            raise QuotaExceeded(cap)
        self._items[endpoint.id] = endpoint

    async def get(self, endpoint_id: str, owner_id: str | None = None) -> WebhookEndpoint | None:
        found = self._items.get(endpoint_id)
        if found is None or (owner_id is not None and found.owner_id != owner_id):
            return None
        return found

    async def page(
        self, owner_id: str, limit: int, after: PagePosition | None
    ) -> list[WebhookEndpoint]:
        mine = [e for e in self._items.values() if e.owner_id == owner_id]
        return _newest_first(mine, limit, after)

    async def compare_and_set(self, endpoint: WebhookEndpoint, expected_version: int) -> bool:
        current = self._items.get(endpoint.id)
        if current is None or current.version != expected_version:
            return False
        self._items[endpoint.id] = endpoint
        return True

    async def delete(self, endpoint_id: str, owner_id: str) -> bool:
        if await self.get(endpoint_id, owner_id) is None:
            return False
        del self._items[endpoint_id]
        return True

    async def subscribed(self, owner_ids: Sequence[str], event_type: str) -> list[WebhookEndpoint]:
        return [
            e
            for e in self._items.values()
            if e.owner_id in owner_ids and e.enabled and e.wants(event_type)
        ]

    async def mark_failing(self, endpoint_id: str, since: datetime) -> bool:
        current = self._items.get(endpoint_id)
        if current is None or current.failing_since is not None:
            return False
        self._items[endpoint_id] = replace(
            current, failing_since=since, version=current.version + 1
        )
        return True

    async def clear_failing(self, endpoint_id: str, since: datetime) -> bool:
        current = self._items.get(endpoint_id)
        if current is None or current.failing_since != since:
            return False
        self._items[endpoint_id] = replace(current, failing_since=None, version=current.version + 1)
        return True

    async def disable(self, endpoint_id: str, reason: DisabledReason, now: datetime) -> bool:
        current = self._items.get(endpoint_id)
        if current is None or not current.enabled:
            return False
        self._items[endpoint_id] = replace(
            current,
            status=EndpointStatus.DISABLED,
            disabled_reason=reason,
            updated_at=now,
            version=current.version + 1,
        )
        return True


class InMemoryEventStore:
    def __init__(self) -> None:
        self._items: dict[str, WebhookEvent] = {}

    async def add(self, event: WebhookEvent) -> WebhookEvent:
        return self._items.setdefault(event.id, event)

    async def get(self, event_id: str, owner_id: str | None = None) -> WebhookEvent | None:
        found = self._items.get(event_id)
        if found is None or (owner_id is not None and not found.visible_to(owner_id)):
            return None
        return found

    async def page(
        self, owner_id: str, event_type: str | None, limit: int, after: PagePosition | None
    ) -> list[WebhookEvent]:
        mine = [
            e
            for e in self._items.values()
            if e.visible_to(owner_id) and (event_type is None or e.type == event_type)
        ]
        return _newest_first(mine, limit, after)


class InMemoryDeliveryStore:
    def __init__(self) -> None:
        self._deliveries: dict[str, Delivery] = {}
        self._attempts: dict[str, list[Attempt]] = defaultdict(list)

    async def add(self, delivery: Delivery) -> Delivery:
        for existing in self._deliveries.values():
            if (existing.event_id, existing.endpoint_id) == (
                delivery.event_id,
                delivery.endpoint_id,
            ):
                return existing
        self._deliveries[delivery.id] = delivery
        return delivery

    async def add_all(self, deliveries: Sequence[Delivery]) -> list[Delivery]:
        return [await self.add(d) for d in deliveries]

    async def get(self, delivery_id: str, owner_id: str | None = None) -> Delivery | None:
        found = self._deliveries.get(delivery_id)
        if found is None or (owner_id is not None and found.owner_id != owner_id):
            return None
        return found

    async def compare_and_set(
        self, delivery: Delivery, expected_version: int, attempt: Attempt | None = None
    ) -> bool:
        current = self._deliveries.get(delivery.id)
        if current is None or current.version != expected_version:
            return False
        self._deliveries[delivery.id] = delivery
        if attempt is not None:
            self._attempts[delivery.id].append(attempt)
        return True

    async def page(
        self,
        endpoint_id: str,
        status: DeliveryStatus | None,
        limit: int,
        after: PagePosition | None,
    ) -> list[Delivery]:
        matching = [
            d
            for d in self._deliveries.values()
            if d.endpoint_id == endpoint_id and (status is None or d.status is status)
        ]
        return _newest_first(matching, limit, after)

    async def overdue(self, due_before: datetime, limit: int) -> list[Delivery]:
        due = [
            d
            for d in self._deliveries.values()
            if d.is_pending and d.next_attempt_at is not None and d.next_attempt_at <= due_before
        ]
        return sorted(due, key=lambda d: d.next_attempt_at or due_before)[:limit]

    async def record_attempt(self, attempt: Attempt) -> None:
        if attempt.delivery_id in self._deliveries:
            self._attempts[attempt.delivery_id].append(attempt)

    async def attempts_of(self, delivery_ids: Sequence[str]) -> dict[str, list[Attempt]]:
        return {i: sorted(self._attempts.get(i, []), key=lambda a: a.at) for i in delivery_ids}
