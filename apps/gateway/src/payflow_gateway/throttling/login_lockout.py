"""Logins that keep failing slow down: the budget of one email across all addresses, and a
lock with backoff on one email from one address after failures in a row.

The lock is per (email, address) so that someone guessing a victim's password from one address
does not lock the victim out of logging in from elsewhere; guessing from many addresses is
capped by the per-email budget. Locks expire, failures are forgotten after a while and at the
first success: nobody is locked out for good.
"""

from __future__ import annotations

import logging
import math

from redis.asyncio import Redis
from redis.exceptions import RedisError

from payflow_gateway.domain.rate_limits import LockoutPolicy, retry_after_s
from payflow_gateway.domain.users import email_key
from payflow_gateway.throttling.budgets import BudgetKeeper, Limit, opaque
from payflow_service import ProblemError

logger = logging.getLogger(__name__)


def too_many_logins(retry_after: int) -> ProblemError:
    return ProblemError(
        429,
        "rate_limited",
        "Too many login attempts for this account; retry after the number of seconds in "
        "Retry-After.",
        headers={"Retry-After": str(retry_after)},
    )


class LoginThrottle:
    def __init__(
        self,
        redis: Redis,
        key_prefix: str,
        keeper: BudgetKeeper,
        per_email: list[Limit],
        policy: LockoutPolicy,
    ) -> None:
        self._redis = redis
        self._prefix = key_prefix
        self._keeper = keeper
        self._per_email = per_email
        self._policy = policy

    def _keys(self, email: str, ip: str) -> tuple[str, str]:
        who = opaque(f"{email_key(email)}|{ip}")
        return f"{self._prefix}:login:failures:{who}", f"{self._prefix}:login:lock:{who}"

    async def admit(self, email: str, ip: str) -> None:
        """Raises 429 `rate_limited` while the login is locked or the email's budget is spent;
        a locked attempt is not counted, so waiting is what ends a lock."""
        _, lock = self._keys(email, ip)
        try:
            locked_ms = int(await self._redis.pttl(lock))
        except (RedisError, OSError) as exc:
            logger.warning("login lockout not applied, Redis failed: %r", exc)
            return
        if locked_ms > 0:
            raise too_many_logins(math.ceil(locked_ms / 1000))
        standings = await self._keeper.charge(
            [(limit, opaque(email_key(email))) for limit in self._per_email]
        )
        if not all(standing.allowed for standing in standings):
            raise too_many_logins(retry_after_s(standings))

    async def failed(self, email: str, ip: str) -> None:
        failures_key, lock = self._keys(email, ip)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(failures_key)
                pipe.pexpire(failures_key, int(self._policy.forget_after_s * 1000))
                failures, _ = await pipe.execute()
            lock_s = self._policy.lock_s(int(failures))
            if lock_s > 0:
                await self._redis.set(lock, b"1", px=max(1, int(lock_s * 1000)))
                logger.info(
                    "login locked after repeated failures",
                    extra={"failures": int(failures), "lock_s": lock_s},
                )
        except (RedisError, OSError) as exc:
            logger.warning("login failure not recorded, Redis failed: %r", exc)

    async def succeeded(self, email: str, ip: str) -> None:
        try:
            await self._redis.delete(*self._keys(email, ip))
        except (RedisError, OSError) as exc:
            logger.warning("login failures not cleared, Redis failed: %r", exc)


class NoLoginThrottle:
    """With rate limits off: every login is admitted, nothing is recorded."""

    async def admit(self, email: str, ip: str) -> None:
        return None

    async def failed(self, email: str, ip: str) -> None:
        return None

    async def succeeded(self, email: str, ip: str) -> None:
        return None
