"""Memory of rarely changing records, kept honest across replicas by a counter in Redis.

Every writer bumps the counter after its change is stored; a reader asks the counter (one Redis
command, instead of a store query) and trusts what it remembered only for the value it remembered
it at. If Redis cannot answer, the reader goes to the store. A reader never sees a change later
than the writer's bump, so a change is visible to every replica once its write has returned.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

from redis.exceptions import RedisError

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class GenerationMemo(Generic[K, V]):
    def __init__(self, redis: Any, key: str, capacity: int = 50_000) -> None:
        self._redis = redis
        self._key = key
        self._capacity = capacity
        self._generation: bytes | None = None
        self._items: dict[K, V] = {}

    async def bump(self) -> None:
        """Call after every stored change of what this memo remembers."""
        await self._redis.incr(self._key)

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        try:
            generation: bytes | None = await self._redis.get(self._key)
        except RedisError:
            return await load()
        if generation != self._generation:
            self._items.clear()
            self._generation = generation
        if key in self._items:
            return self._items[key]
        value = await load()
        # Kept only if nothing changed since the counter was read: a load that raced a change
        # may hold the old value, and belongs to the old generation.
        if generation == self._generation:
            if len(self._items) >= self._capacity:
                self._items.pop(next(iter(self._items)))
            self._items[key] = value
        return value


class KeyedGenerationMemo(Generic[V]):
    """The same, with one counter per remembered item: a change to one item (a user, say)
    forgets that item only, on every replica."""

    def __init__(self, redis: Any, key_prefix: str, capacity: int = 100_000) -> None:
        self._redis = redis
        self._prefix = key_prefix
        self._capacity = capacity
        self._items: dict[str, tuple[bytes | None, V]] = {}

    def _key(self, item: str) -> str:
        return f"{self._prefix}:{item}"

    async def bump(self, item: str) -> None:
        """Call after every stored change of `item`."""
        await self._redis.incr(self._key(item))
        self._items.pop(item, None)

    async def get(self, item: str, load: Callable[[], Awaitable[V]]) -> V:
        try:
            generation: bytes | None = await self._redis.get(self._key(item))
        except RedisError:
            return await load()
        known = self._items.get(item)
        if known is not None and known[0] == generation:
            return known[1]
        value = await load()
        if len(self._items) >= self._capacity:
            self._items.pop(next(iter(self._items)))
        # A load that raced a change is stored under the generation read before it, which the
        # change has already moved on: the next read loads again.
        self._items[item] = (generation, value)
        return value
