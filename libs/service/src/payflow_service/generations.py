"""Memory of rarely changing records, kept honest across replicas by a counter in Redis.

Every writer bumps the counter after its change is stored; a reader asks the counter (one Redis
command, instead of a store query) and trusts what it remembered only for the value it remembered
it at. If Redis cannot answer, the reader goes to the store. A reader never sees a change later
than the writer's bump, so a change is visible to every replica once its write has returned.

A bump can be lost: Redis down between the write and the bump, or restarted from a state older
than the bump. So nothing is trusted longer than `max_age_s` (default 30 s) either: a lost bump
leaves a replica stale for at most that long, never until the next change.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

from redis.exceptions import RedisError

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

MAX_AGE_S = 30.0


class GenerationMemo(Generic[K, V]):
    def __init__(
        self,
        redis: Any,
        key: str,
        capacity: int = 50_000,
        max_age_s: float = MAX_AGE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._key = key
        self._capacity = capacity
        self._max_age_s = max_age_s
        self._clock = clock
        self._generation: bytes | None = None
        self._since = clock()
        self._items: dict[K, V] = {}

    async def bump(self) -> None:
        """Call after every stored change of what this memo remembers."""
        await self._redis.incr(self._key)

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        try:
            generation: bytes | None = await self._redis.get(self._key)
        except RedisError:
            return await load()
        now = self._clock()
        if generation != self._generation or now - self._since > self._max_age_s:
            self._items.clear()
            self._generation = generation
            self._since = now
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

    def __init__(
        self,
        redis: Any,
        key_prefix: str,
        capacity: int = 100_000,
        max_age_s: float = MAX_AGE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._prefix = key_prefix
        self._capacity = capacity
        self._max_age_s = max_age_s
        self._clock = clock
        self._items: dict[str, tuple[bytes | None, float, V]] = {}

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
        now = self._clock()
        known = self._items.get(item)
        if known is not None and known[0] == generation and now - known[1] <= self._max_age_s:
            return known[2]
        value = await load()
        if len(self._items) >= self._capacity:
            self._items.pop(next(iter(self._items)))
        # A load that raced a change is stored under the generation read before it, which the
        # change has already moved on: the next read loads again.
        self._items[item] = (generation, now, value)
        return value
