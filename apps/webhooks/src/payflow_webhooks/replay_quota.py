"""How many manual retries (replays) of deliveries one owner may ask for per clock hour.

One counter per (owner, hour) in Redis, taken and checked by one script: concurrent requests can
never take more than the quota, and a request refused leaves the counter as it found it. Only
replays that are about to happen are counted (a retry of an unknown delivery is not), and one that
then does not happen gives its unit back. If Redis fails, the replay goes through uncounted (a
Redis outage should not be an outage of replays too); it is logged.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from redis.exceptions import RedisError

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


GiveBack = Callable[[], Awaitable[None]]


class QuotaSpent(Exception):
    """The owner's replays of this hour are used up; the next hour starts in `retry_after` s."""

    def __init__(self, per_hour: int, retry_after: int) -> None:
        super().__init__(f"{per_hour} replays per hour")
        self.per_hour = per_hour
        self.retry_after = retry_after


class ReplayQuota(Protocol):
    async def take(self, owner_id: str) -> GiveBack:
        """Counts one replay, or raises `QuotaSpent`; returns what gives the unit back."""
        ...


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
