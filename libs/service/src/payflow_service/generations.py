"""Memory of rarely changing records, kept honest across replicas by a counter in Redis.

Every writer bumps the counter after its change is stored; a reader asks the counter (one Redis
command, instead of a store query) and trusts what it remembered only for the value it remembered
it at. If Redis cannot answer, the reader goes to the store. A reader never sees a change later
than the writer's bump, so a change is visible to every replica once its write has returned.

A Redis that crashes may come back without its last bumps (AOF `everysec`), so a counter could
return to a value a replica remembered before a change: every remembered item also has a
maximum age (`max_age_s`, 30 s by default) after which it is loaded again, which bounds how
stale such a loss can leave a replica.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class GenerationMemo(Generic[K, V]):
    def __init__(
        self,
        redis: Any,
        key: str,
        capacity: int = 50_000,
        max_age_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._key = key
        self._capacity = capacity
        self._max_age_s = max_age_s
        self._clock = clock
        self._generation: bytes | None = None
        self._items: dict[K, tuple[float, V]] = {}

    async def bump(self) -> None:
        """Call after every stored change of what this memo remembers. The change is stored
        already, so a Redis that cannot answer does not fail it: this replica forgets at once,
        the others within `max_age_s`."""
        self._items.clear()
        try:
            await self._redis.incr(self._key)
        except RedisError as exc:
            logger.warning(
                "change not signalled to other replicas (%r): they reload within %ss",
                exc,
                self._max_age_s,
            )

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        try:
            generation: bytes | None = await self._redis.get(self._key)
        except RedisError:
            return await load()
        if generation != self._generation:
            self._items.clear()
            self._generation = generation
        known = self._items.get(key)
        now = self._clock()
        if known is not None and now - known[0] < self._max_age_s:
            return known[1]
        value = await load()
        # Kept only if nothing changed since the counter was read: a load that raced a change
        # may hold the old value, and belongs to the old generation.
        if generation == self._generation:
            if key not in self._items and len(self._items) >= self._capacity:
                self._items.pop(next(iter(self._items)))
            self._items[key] = (now, value)
        return value


class KeyedGenerationMemo(Generic[V]):
    """The same, with one counter per remembered item: a change to one item (a user, say)
    forgets that item only, on every replica."""

    def __init__(
        self,
        redis: Any,
        key_prefix: str,
        capacity: int = 100_000,
        max_age_s: float = 30.0,
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
        """Call after every stored change of `item` (a Redis that cannot answer: see above)."""
        self._items.pop(item, None)
        try:
            await self._redis.incr(self._key(item))
        except RedisError as exc:
            logger.warning(
                "change of %s not signalled to other replicas (%r): they reload within %ss",
                item,
                exc,
                self._max_age_s,
            )

    async def get(self, item: str, load: Callable[[], Awaitable[V]]) -> V:
        try:
            generation: bytes | None = await self._redis.get(self._key(item))
        except RedisError:
            return await load()
        known = self._items.get(item)
        now = self._clock()
        if known is not None and known[0] == generation and now - known[1] < self._max_age_s:
            return known[2]
        value = await load()
        if item not in self._items and len(self._items) >= self._capacity:
            self._items.pop(next(iter(self._items)))
        # A load that raced a change is stored under the generation read before it, which the
        # change has already moved on: the next read loads again.
        self._items[item] = (generation, now, value)
        return value
