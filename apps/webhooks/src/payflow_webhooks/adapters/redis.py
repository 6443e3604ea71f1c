"""The Redis adapters: the hourly replay quota and the remembered endpoints.

The replay quota: how many manual retries (replays) of deliveries one owner may ask for per
clock hour. One counter per (owner, hour) in Redis, taken and checked by one script: concurrent requests can
never take more than the quota, and a request refused leaves the counter as it found it. Only
replays that are about to happen are counted (a retry of an unknown delivery is not), and one that
then does not happen gives its unit back. If Redis fails, the replay goes through uncounted (a
Redis outage should not be an outage of replays too); it is logged.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from redis.exceptions import RedisError

from payflow_contracts.paging import PagePosition
from payflow_service.generations import GenerationMemo
from payflow_webhooks.domain.endpoint import DisabledReason, WebhookEndpoint
from payflow_webhooks.domain.errors import QuotaSpent
from payflow_webhooks.ports import EndpointStore, GiveBack

logger = logging.getLogger(__name__)

HOUR_S = 3600

# KEYS[1] the counter; ARGV[1] the quota, ARGV[2] the counter's lifetime in seconds.
_TAKE = """
local taken = redis.call('INCR', KEYS[1])
if taken == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if taken > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  return 0
end
return 1
"""


class HourlyReplayQuota:
    def __init__(
        self,
        redis: Any,
        key_prefix: str,
        per_hour: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._prefix = key_prefix
        self._per_hour = per_hour
        self._clock = clock
        self._take = redis.register_script(_TAKE)

    async def take(self, owner_id: str) -> GiveBack:
        now = self._clock()
        hour = math.floor(now / HOUR_S)
        key = f"{self._prefix}:webhooks:replays:{owner_id}:{hour}"
        try:
            taken = await self._take(keys=[key], args=[self._per_hour, HOUR_S + 60])
        except (RedisError, OSError) as exc:
            logger.warning("replay quota not applied, Redis failed: %r", exc)
            return _nothing
        if not taken:
            retry_after = max(1, math.ceil((hour + 1) * HOUR_S - now))
            raise QuotaSpent(self._per_hour, retry_after)

        async def give_back() -> None:
            try:
                await self._redis.decr(key)
            except (RedisError, OSError) as exc:
                logger.warning("a replay's quota unit was not given back: %r", exc)

        return give_back


async def _nothing() -> None:
    return None


# ---------------------------------------------------------------- remembered endpoints


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

    async def add(self, endpoint: WebhookEndpoint, cap: int | None = None) -> None:
        await self._inner.add(endpoint, cap)
        await self._memo.bump()

    async def get(self, endpoint_id: str, owner_id: str | None = None) -> WebhookEndpoint | None:
        found: WebhookEndpoint | None = await self._memo.get(
            ("get", endpoint_id, owner_id), lambda: self._inner.get(endpoint_id, owner_id)
        )
        return found

    async def page(
        self, owner_id: str, limit: int, after: PagePosition | None
    ) -> list[WebhookEndpoint]:
        return await self._inner.page(owner_id, limit, after)

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
