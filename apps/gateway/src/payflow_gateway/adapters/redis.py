"""The gateway's Redis adapters: idempotency records (one atomic script per step), users
remembered between their changes, the rate-limit budgets, the login lockout and the cap on open
transfer streams; all kept in Redis so that they hold across gateway replicas
(docs/phases/PHASE-8-HARDENING.md)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

import anyio
from limits.aio.storage import RedisStorage
from limits.aio.strategies import FixedWindowRateLimiter
from redis.asyncio import Redis
from redis.exceptions import RedisError

from payflow_gateway.domain.errors import ServiceUnavailable
from payflow_gateway.domain.idempotency import Claim, Claimed, InProgress, Mismatch, Replay
from payflow_gateway.domain.rate_limits import (
    LockoutPolicy,
    Standing,
    retry_after_s,
    whole_seconds,
)
from payflow_gateway.domain.users import Credentials, User, email_key
from payflow_gateway.ports import Limit, UserStore
from payflow_service import ProblemError
from payflow_service.generations import KeyedGenerationMemo

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------- idempotency records

# One record is one hash; each operation is one atomic script, so no two requests can both see
# the key free. Times are epoch milliseconds passed by the caller (the gateway's clock), compared
# as numbers; the key also expires in Redis at the record's `expires_at`, so memory stays bounded.
_CLAIM = """
local now = tonumber(ARGV[2])
local rec = redis.call('HGETALL', KEYS[1])
if #rec > 0 then
  local r = {}
  for i = 1, #rec, 2 do r[rec[i]] = rec[i + 1] end
  if tonumber(r.expires_at) > now then
    if r.fingerprint ~= ARGV[1] then return {'mismatch'} end
    if r.state == 'completed' then return {'replay', r.status, r.body} end
    if tonumber(r.locked_until) > now then return {'in_progress'} end
    redis.call('HSET', KEYS[1], 'locked_until', now + tonumber(ARGV[3]), 'token', ARGV[5])
    return {'claimed'}
  end
  redis.call('DEL', KEYS[1])
end
local expires_at = now + tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'fingerprint', ARGV[1], 'state', 'in_progress', 'token', ARGV[5],
  'locked_until', now + tonumber(ARGV[3]), 'expires_at', expires_at)
redis.call('PEXPIREAT', KEYS[1], expires_at)
return {'claimed'}
"""

_COMPLETE = """
if redis.call('HGET', KEYS[1], 'state') == 'in_progress'
   and redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'state', 'completed', 'status', ARGV[2], 'body', ARGV[3])
end
return 0
"""

_RELEASE = """
if redis.call('HGET', KEYS[1], 'state') == 'in_progress'
   and redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
return 0
"""


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class RedisIdempotencyStore:
    """Idempotency records in Redis: no document-store command on the path of a payment.

    What a lost Redis record costs is bounded by the orchestrator, which keeps one transfer per
    (user, key) in its own store: a retry after the loss finds that transfer again (never a
    second one), answered as it stands rather than as a byte-for-byte replay."""

    def __init__(self, redis: Any, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._claim = redis.register_script(_CLAIM)
        self._complete = redis.register_script(_COMPLETE)
        self._release = redis.register_script(_RELEASE)

    def _key(self, record_id: str) -> str:
        return f"{self._prefix}:idempotency:{record_id}"

    async def claim(
        self, record_id: str, fingerprint: str, now: datetime, lock_for: timedelta, ttl: timedelta
    ) -> Claim:
        token = secrets.token_hex(8)
        try:
            answer = await self._claim_script(record_id, fingerprint, now, lock_for, ttl, token)
        except RedisError as exc:
            # Nothing was claimed, so nothing may be done: the client retries with the same key.
            raise ServiceUnavailable("idempotency") from exc
        verdict = _text(answer[0])
        if verdict == "claimed":
            return Claimed(token)
        if verdict == "replay":
            return Replay(int(answer[1]), json.loads(answer[2]))
        if verdict == "mismatch":
            return Mismatch()
        return InProgress()

    async def _claim_script(
        self,
        record_id: str,
        fingerprint: str,
        now: datetime,
        lock_for: timedelta,
        ttl: timedelta,
        token: str,
    ) -> Any:
        return await self._claim(
            keys=[self._key(record_id)],
            args=[
                fingerprint,
                _millis(now),
                int(lock_for.total_seconds() * 1000),
                int(ttl.total_seconds() * 1000),
                token,
            ],
        )

    async def complete(self, record_id: str, token: str, status: int, body: Any) -> None:
        # The work is done: a Redis that cannot store its answer must not turn it into an error.
        # The claim lapses, and a retry is answered by the orchestrator's (user, key) record.
        try:
            await self._complete(
                keys=[self._key(record_id)],
                args=[token, status, json.dumps(body, separators=(",", ":"))],
            )
        except RedisError as exc:
            logger.warning("idempotent answer not stored (%r): the claim will lapse", exc)

    async def release(self, record_id: str, token: str) -> None:
        try:
            await self._release(keys=[self._key(record_id)], args=[token])
        except RedisError as exc:
            logger.warning("idempotency claim not released (%r): it will lapse", exc)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# ---------------------------------------------------------------- remembered users


class RememberedUserStore:
    def __init__(
        self, inner: UserStore, redis: Any, key_prefix: str, max_age_s: float = 30.0
    ) -> None:
        self._inner = inner
        self._memo: KeyedGenerationMemo[User | None] = KeyedGenerationMemo(
            redis, key_prefix, max_age_s=max_age_s
        )

    async def add(self, user: User, password_hash: str) -> None:
        await self._inner.add(user, password_hash)
        await self._memo.bump(user.id)  # a lookup may have remembered "no such user"

    async def by_id(self, user_id: str) -> User | None:
        return await self._memo.get(user_id, lambda: self._inner.by_id(user_id))

    async def credentials_for(self, email: str) -> Credentials | None:
        return await self._inner.credentials_for(email)

    async def attach_default_wallet(self, user_id: str, wallet_id: str) -> bool:
        attached = await self._inner.attach_default_wallet(user_id, wallet_id)
        await self._memo.bump(user_id)
        return attached

    async def withdraw_unprovisioned(self, user_id: str) -> bool:
        withdrawn = await self._inner.withdraw_unprovisioned(user_id)
        await self._memo.bump(user_id)
        return withdrawn

    async def promote_to_admin(self, email: str) -> bool:
        promoted = await self._inner.promote_to_admin(email)
        found = await self._inner.credentials_for(email)
        if found is not None:
            await self._memo.bump(found.user.id)
        return promoted

    async def page(self, limit: int, after: str | None) -> list[User]:
        return await self._inner.page(limit, after)


# ---------------------------------------------------------------- rate-limit budgets

# Budgets kept in Redis by the `limits` library: a request is charged to every budget that
# applies to it and is refused when one of them is spent. Fixed windows: a key's window starts
# with its first request and its count is reset when the window ends, which is exactly what the
# `RateLimit` field tells (`r` left, `t` seconds to the reset). A client may spend two budgets
# back to back across a window's end; the budgets are sized with that in mind.


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


# ---------------------------------------------------------------- login lockout

# Logins that keep failing slow down: the budget of one email across all addresses, and a lock
# with backoff on one email from one address after failures in a row. The lock is per (email,
# address) so that someone guessing a victim's password from one address does not lock the
# victim out of logging in from elsewhere; guessing from many addresses is capped by the
# per-email budget. Locks expire, failures are forgotten after a while and at the first success.


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


# ---------------------------------------------------------------- open transfer streams

# Each open stream holds a lease in a Redis sorted set per user (score: when the lease ends),
# which the stream renews while it is open and gives back when it closes. A gateway that dies
# mid-stream cannot give its leases back: they lapse on their own after `LEASE_S`.

LEASE_S = 60.0
RENEW_EVERY_S = LEASE_S / 3

# KEYS[1] the user's leases; ARGV: now, lease end, cap, lease id, key lifetime (ms).
_TAKE_LEASE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""


class StreamLease:
    def __init__(self, redis: Redis, key: str, lease_id: str) -> None:
        self._redis = redis
        self._key = key
        self._id = lease_id
        self._renewal = asyncio.create_task(self._renew(), name="stream-lease-renewal")

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY_S)
            try:
                await self._redis.zadd(self._key, {self._id: time.time() + LEASE_S}, xx=True)
            except (RedisError, OSError) as exc:
                logger.warning("stream lease not renewed: %r", exc)

    async def release(self) -> None:
        """Gives the lease back; also from a stream being cancelled (the client went away),
        whose task group would cancel any unshielded wait at once."""
        self._renewal.cancel()
        with anyio.CancelScope(shield=True):
            try:
                await self._redis.zrem(self._key, self._id)
            except (RedisError, OSError) as exc:
                logger.warning("stream lease not given back (it lapses on its own): %r", exc)


class StreamSlots:
    def __init__(self, redis: Redis, key_prefix: str, per_user: int) -> None:
        self._redis = redis
        self._prefix = key_prefix
        self._per_user = per_user
        self._take = redis.register_script(_TAKE_LEASE)

    async def take(self, user_id: str) -> StreamLease | None:
        """A lease for one more stream of `user_id`; raises 429 `too_many_streams` when the user
        has `per_user` open already. None when Redis does not answer (the stream is let through)."""
        key = f"{self._prefix}:streams:{user_id}"
        lease_id = secrets.token_hex(8)
        now = time.time()
        try:
            taken = await self._take(
                keys=[key],
                args=[now, now + LEASE_S, self._per_user, lease_id, int(2 * LEASE_S * 1000)],
            )
        except (RedisError, OSError) as exc:
            logger.warning("stream cap not applied, Redis failed: %r", exc)
            return None
        if not taken:
            raise ProblemError(
                429,
                "too_many_streams",
                f"At most {self._per_user} transfer streams can be open at once; close one first.",
                headers={"Retry-After": "5"},
            )
        return StreamLease(self._redis, key, lease_id)
