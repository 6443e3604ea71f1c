"""Idempotency records: one document per (user, key), claimed by a unique insert and settled
by compare-and-set. A protocol, its MongoDB adapter and an in-memory twin."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from beanie import Document
from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError


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
