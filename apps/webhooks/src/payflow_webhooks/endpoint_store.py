"""Where webhook endpoints live: a protocol, its MongoDB adapter and an in-memory twin.

Every write is one single-document operation. The owner's edits are compare-and-set on
`version`; the worker's writes (failing since, disable) are guarded by the field they change and
bump `version` too, so an edit made from a stale read is refused and retried, never lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from beanie import Document
from pymongo import ASCENDING, DESCENDING, IndexModel

from payflow_service.generations import GenerationMemo
from payflow_webhooks.domain.endpoint import DisabledReason, EndpointStatus, WebhookEndpoint
from payflow_webhooks.paging import before_cursor, next_cursor_of, page_in_memory, position_of


class EndpointStore(Protocol):
    async def add(self, endpoint: WebhookEndpoint) -> None: ...
    async def get(self, endpoint_id: str, owner_id: str | None = None) -> WebhookEndpoint | None:
        """The endpoint; with `owner_id`, only when it belongs to that owner."""
        ...

    async def page(
        self, owner_id: str, limit: int, cursor: str | None
    ) -> tuple[list[WebhookEndpoint], str | None]: ...
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


# ---------------------------------------------------------------- MongoDB


class EndpointDocument(Document):
    """Schema and indexes of `webhook_endpoints` (written through raw single-document ops)."""

    class Settings:
        name = "webhook_endpoints"
        indexes = [
            IndexModel([("owner_id", ASCENDING), ("position", DESCENDING)], name="by_owner"),
            IndexModel([("owner_id", ASCENDING), ("status", ASCENDING)], name="by_owner_status"),
        ]


def _to_document(endpoint: WebhookEndpoint) -> dict[str, Any]:
    data = endpoint.model_dump(mode="python")
    data["_id"] = data.pop("id")
    data["event_types"] = list(data["event_types"])
    data["retired_secrets"] = [dict(r) for r in data["retired_secrets"]]
    data["position"] = position_of(endpoint.created_at, endpoint.id)
    return data


def _from_document(data: dict[str, Any]) -> WebhookEndpoint:
    data = dict(data)
    data["id"] = data.pop("_id")
    data.pop("position", None)
    return WebhookEndpoint.model_validate(data)


def _position(endpoint: WebhookEndpoint) -> str:
    return position_of(endpoint.created_at, endpoint.id)


class MongoEndpointStore:
    def __init__(self, collection: Any) -> None:
        self._collection = collection

    async def add(self, endpoint: WebhookEndpoint) -> None:
        await self._collection.insert_one(_to_document(endpoint))

    async def get(self, endpoint_id: str, owner_id: str | None = None) -> WebhookEndpoint | None:
        query: dict[str, Any] = {"_id": endpoint_id}
        if owner_id is not None:
            query["owner_id"] = owner_id
        data = await self._collection.find_one(query)
        return _from_document(data) if data else None

    async def page(
        self, owner_id: str, limit: int, cursor: str | None
    ) -> tuple[list[WebhookEndpoint], str | None]:
        clauses: list[dict[str, Any]] = [{"owner_id": owner_id}]
        older = before_cursor(cursor)
        if older:
            clauses.append(older)
        found = self._collection.find({"$and": clauses}).sort([("position", DESCENDING)])
        items = [_from_document(d) async for d in found.limit(limit + 1)]
        return items[:limit], next_cursor_of(items, limit, _position)

    async def compare_and_set(self, endpoint: WebhookEndpoint, expected_version: int) -> bool:
        fields = _to_document(endpoint)
        fields.pop("_id")
        result = await self._collection.update_one(
            {"_id": endpoint.id, "version": expected_version}, {"$set": fields}
        )
        return bool(result.modified_count == 1)

    async def delete(self, endpoint_id: str, owner_id: str) -> bool:
        result = await self._collection.delete_one({"_id": endpoint_id, "owner_id": owner_id})
        return bool(result.deleted_count == 1)

    async def subscribed(self, owner_ids: Sequence[str], event_type: str) -> list[WebhookEndpoint]:
        found = self._collection.find(
            {"owner_id": {"$in": list(owner_ids)}, "status": EndpointStatus.ENABLED.value}
        )
        endpoints = [_from_document(d) async for d in found]
        return [e for e in endpoints if e.wants(event_type)]

    async def mark_failing(self, endpoint_id: str, since: datetime) -> bool:
        result = await self._collection.update_one(
            {"_id": endpoint_id, "failing_since": None},
            {"$set": {"failing_since": since}, "$inc": {"version": 1}},
        )
        return bool(result.modified_count == 1)

    async def clear_failing(self, endpoint_id: str, since: datetime) -> bool:
        result = await self._collection.update_one(
            {"_id": endpoint_id, "failing_since": since},
            {"$set": {"failing_since": None}, "$inc": {"version": 1}},
        )
        return bool(result.modified_count == 1)

    async def disable(self, endpoint_id: str, reason: DisabledReason, now: datetime) -> bool:
        result = await self._collection.update_one(
            {"_id": endpoint_id, "status": EndpointStatus.ENABLED.value},
            {
                "$set": {
                    "status": EndpointStatus.DISABLED.value,
                    "disabled_reason": reason.value,
                    "updated_at": now,
                },
                "$inc": {"version": 1},
            },
        )
        return bool(result.modified_count == 1)


# ---------------------------------------------------------------- in memory


class InMemoryEndpointStore:
    """The twin used by unit tests; passes the same contract tests as the Mongo adapter."""

    def __init__(self) -> None:
        self._items: dict[str, WebhookEndpoint] = {}

    async def add(self, endpoint: WebhookEndpoint) -> None:
        if endpoint.id in self._items:
            raise ValueError(f"endpoint {endpoint.id} exists already")
        self._items[endpoint.id] = endpoint

    async def get(self, endpoint_id: str, owner_id: str | None = None) -> WebhookEndpoint | None:
        found = self._items.get(endpoint_id)
        if found is None or (owner_id is not None and found.owner_id != owner_id):
            return None
        return found

    async def page(
        self, owner_id: str, limit: int, cursor: str | None
    ) -> tuple[list[WebhookEndpoint], str | None]:
        mine = [e for e in self._items.values() if e.owner_id == owner_id]
        return page_in_memory(mine, _position, limit, cursor)

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

    def _bump(self, endpoint: WebhookEndpoint, **changes: Any) -> None:
        self._items[endpoint.id] = endpoint.model_copy(
            update={**changes, "version": endpoint.version + 1}
        )

    async def mark_failing(self, endpoint_id: str, since: datetime) -> bool:
        current = self._items.get(endpoint_id)
        if current is None or current.failing_since is not None:
            return False
        self._bump(current, failing_since=since)
        return True

    async def clear_failing(self, endpoint_id: str, since: datetime) -> bool:
        current = self._items.get(endpoint_id)
        if current is None or current.failing_since != since:
            return False
        self._bump(current, failing_since=None)
        return True

    async def disable(self, endpoint_id: str, reason: DisabledReason, now: datetime) -> bool:
        current = self._items.get(endpoint_id)
        if current is None or not current.enabled:
            return False
        self._bump(current, status=EndpointStatus.DISABLED, disabled_reason=reason, updated_at=now)
        return True


# ---------------------------------------------------------------- remembered


class CachedEndpointStore:
    """Endpoint reads from memory while no process has changed any endpoint (see
    `payflow_service.generations`): the intake's subscriber query and the worker's endpoint read
    cost one Redis command instead of a store query. Every write goes to the store, then bumps
    the generation, in the service and in the worker alike."""

    def __init__(
        self, inner: EndpointStore, redis: Any, generation_key: str, max_age_s: float = 30.0
    ) -> None:
        self._inner = inner
        self._memo: GenerationMemo[tuple[Any, ...], Any] = GenerationMemo(
            redis, generation_key, max_age_s=max_age_s
        )

    async def _changed(self, result: Any) -> Any:
        await self._memo.bump()
        return result

    async def add(self, endpoint: WebhookEndpoint) -> None:
        await self._inner.add(endpoint)
        await self._memo.bump()

    async def get(self, endpoint_id: str, owner_id: str | None = None) -> WebhookEndpoint | None:
        found: WebhookEndpoint | None = await self._memo.get(
            ("get", endpoint_id, owner_id), lambda: self._inner.get(endpoint_id, owner_id)
        )
        return found

    async def page(
        self, owner_id: str, limit: int, cursor: str | None
    ) -> tuple[list[WebhookEndpoint], str | None]:
        return await self._inner.page(owner_id, limit, cursor)

    async def compare_and_set(self, endpoint: WebhookEndpoint, expected_version: int) -> bool:
        done: bool = await self._changed(
            await self._inner.compare_and_set(endpoint, expected_version)
        )
        return done

    async def delete(self, endpoint_id: str, owner_id: str) -> bool:
        done: bool = await self._changed(await self._inner.delete(endpoint_id, owner_id))
        return done

    async def subscribed(self, owner_ids: Sequence[str], event_type: str) -> list[WebhookEndpoint]:
        owners = tuple(owner_ids)
        found: list[WebhookEndpoint] = await self._memo.get(
            ("subscribed", owners, event_type), lambda: self._inner.subscribed(owners, event_type)
        )
        return list(found)

    async def mark_failing(self, endpoint_id: str, since: datetime) -> bool:
        done: bool = await self._changed(await self._inner.mark_failing(endpoint_id, since))
        return done

    async def clear_failing(self, endpoint_id: str, since: datetime) -> bool:
        done: bool = await self._changed(await self._inner.clear_failing(endpoint_id, since))
        return done

    async def disable(self, endpoint_id: str, reason: DisabledReason, now: datetime) -> bool:
        done: bool = await self._changed(await self._inner.disable(endpoint_id, reason, now))
        return done
