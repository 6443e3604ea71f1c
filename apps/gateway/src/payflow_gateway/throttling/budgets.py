"""Budgets kept in Redis by the `limits` library: a request is charged to every budget that
applies to it and is refused when one of them is spent.

Fixed windows: a key's window starts with its first request and its count is reset when the
window ends, which is exactly what the `RateLimit` field tells (`r` left, `t` seconds to the
reset). A client may spend two budgets back to back across a window's end; the budgets are sized
with that in mind."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass

import limits
from limits import RateLimitItem
from limits.aio.storage import RedisStorage
from limits.aio.strategies import FixedWindowRateLimiter
from redis.exceptions import RedisError

from payflow_gateway.domain.rate_limits import Budget, Standing, whole_seconds

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    budget: Budget
    item: RateLimitItem


def limits_of(request_class: str, key_kind: str, notation: str) -> list[Limit]:
    """The budgets a setting such as "30/minute;300/hour" describes."""
    return [
        Limit(Budget(request_class, key_kind, item.amount, item.get_expiry()), item)
        for item in limits.parse_many(notation)
    ]


def opaque(value: str) -> str:
    """A key part that keeps emails and secrets out of Redis key names."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class BudgetKeeper:
    def __init__(self, storage: RedisStorage) -> None:
        self._counters = FixedWindowRateLimiter(storage)

    async def charge(self, charges: list[tuple[Limit, str]]) -> list[Standing]:
        """Charges one request to each (limit, key); where each key stands afterwards.

        Fails open: if Redis does not answer, the request goes through uncounted (and nothing
        is reported), so that a Redis outage does not become an API outage of its own."""
        try:
            return list(await asyncio.gather(*(self._charge(limit, key) for limit, key in charges)))
        except (RedisError, OSError) as exc:
            logger.warning("rate limits not applied, Redis failed: %r", exc)
            return []

    async def _charge(self, limit: Limit, key: str) -> Standing:
        budget = limit.budget
        parts = (budget.request_class, budget.key_kind, key)
        allowed = await self._counters.hit(limit.item, *parts)
        stats = await self._counters.get_window_stats(limit.item, *parts)
        return Standing(
            budget, allowed, stats.remaining, whole_seconds(stats.reset_time - time.time())
        )
