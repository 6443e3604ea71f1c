"""The cap on transfer streams one user holds open at once, across gateway replicas.

Each open stream holds a lease in a Redis sorted set per user (score: when the lease ends), which
the stream renews while it is open and gives back when it closes. A gateway that dies mid-stream
cannot give its leases back: they lapse on their own after `LEASE_S`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time

import anyio
from redis.asyncio import Redis
from redis.exceptions import RedisError

from payflow_service import ProblemError

logger = logging.getLogger(__name__)

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
