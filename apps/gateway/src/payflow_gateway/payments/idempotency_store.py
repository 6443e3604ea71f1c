"""Idempotency records, one per (user, key): a protocol, its Redis adapter (the default: one
atomic script per step), its MongoDB adapter (a unique insert settled by compare-and-set) and an
in-memory twin; all three pass one contract suite."""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from beanie import Document
from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError
from redis.exceptions import RedisError

from payflow_gateway.internal_http import ServiceUnavailable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claimed:
    """This request owns the key: do the work, then `complete` (or `release`) with the token.

    The token is written with the claim, so a request whose lock lapsed and was taken over can
    neither complete nor release the claim of the request that took over."""

    token: str


@dataclass(frozen=True)
class Replay:
    status: int
    body: Any


@dataclass(frozen=True)
class Mismatch:
    """The key was used with another request body."""


@dataclass(frozen=True)
class InProgress:
    """The first request with this key is still being processed."""


Claim = Claimed | Replay | Mismatch | InProgress


class IdempotencyStore(Protocol):
    async def claim(
        self, record_id: str, fingerprint: str, now: datetime, lock_for: timedelta, ttl: timedelta
    ) -> Claim: ...
    async def complete(self, record_id: str, token: str, status: int, body: Any) -> None: ...
    async def release(self, record_id: str, token: str) -> None: ...


def _decide(existing: dict[str, Any], fingerprint: str, now: datetime) -> Claim | None:
    """What an existing, unexpired record answers; None when its lock has lapsed (take over)."""
    if existing["fingerprint"] != fingerprint:
        return Mismatch()
    if existing["state"] == "completed":
        return Replay(existing["status"], existing["body"])
    if existing["locked_until"] > now:
        return InProgress()
    return None


class IdempotencyRecordDocument(Document):
    class Settings:
        name = "idempotency_records"
        indexes = [IndexModel([("expires_at", 1)], expireAfterSeconds=0, name="expire_after_24h")]


class MongoIdempotencyStore:
    def __init__(self, collection: Any) -> None:
        self._collection = collection

    async def claim(
        self, record_id: str, fingerprint: str, now: datetime, lock_for: timedelta, ttl: timedelta
    ) -> Claim:
        token = secrets.token_hex(8)
        fresh = {
            "_id": record_id,
            "fingerprint": fingerprint,
            "state": "in_progress",
            "token": token,
            "locked_until": now + lock_for,
            "created_at": now,
            "expires_at": now + ttl,
        }
        for _ in range(10):
            try:
                await self._collection.insert_one(dict(fresh))
                return Claimed(token)
            except DuplicateKeyError:
                pass
            existing = await self._collection.find_one({"_id": record_id})
            if existing is None:
                continue  # expired and removed meanwhile: try the insert again
            if existing["expires_at"] <= now:
                replaced = await self._collection.replace_one(
                    {"_id": record_id, "expires_at": existing["expires_at"]}, fresh
                )
                if replaced.modified_count == 1:
                    return Claimed(token)
                continue
            decided = _decide(existing, fingerprint, now)
            if decided is not None:
                return decided
            # The first request's lock lapsed (its process died): take over, once.
            taken = await self._collection.update_one(
                {
                    "_id": record_id,
                    "state": "in_progress",
                    "locked_until": existing["locked_until"],
                },
                {"$set": {"locked_until": now + lock_for, "token": token}},
            )
            if taken.modified_count == 1:
                return Claimed(token)
        return InProgress()

    async def complete(self, record_id: str, token: str, status: int, body: Any) -> None:
        await self._collection.update_one(
            {"_id": record_id, "state": "in_progress", "token": token},
            {"$set": {"state": "completed", "status": status, "body": body}},
        )

    async def release(self, record_id: str, token: str) -> None:
        await self._collection.delete_one(
            {"_id": record_id, "state": "in_progress", "token": token}
        )


class InMemoryIdempotencyStore:
    def __init__(self) -> None:
        self._records: dict[str, dict[str, Any]] = {}

    async def claim(
        self, record_id: str, fingerprint: str, now: datetime, lock_for: timedelta, ttl: timedelta
    ) -> Claim:
        existing = self._records.get(record_id)
        if existing is not None and existing["expires_at"] > now:
            decided = _decide(existing, fingerprint, now)
            if decided is not None:
                return decided
            token = secrets.token_hex(8)
            existing.update(locked_until=now + lock_for, token=token)
            return Claimed(token)
        token = secrets.token_hex(8)
        self._records[record_id] = {
            "fingerprint": fingerprint,
            "state": "in_progress",
            "token": token,
            "locked_until": now + lock_for,
            "expires_at": now + ttl,
        }
        return Claimed(token)

    async def complete(self, record_id: str, token: str, status: int, body: Any) -> None:
        record = self._records.get(record_id)
        if record is not None and record["state"] == "in_progress" and record["token"] == token:
            record.update(state="completed", status=status, body=body)

    async def release(self, record_id: str, token: str) -> None:
        record = self._records.get(record_id)
        if record is not None and record["state"] == "in_progress" and record["token"] == token:
            del self._records[record_id]


# ---------------------------------------------------------------- Redis

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
