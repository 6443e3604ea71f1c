"""Pure rules of the `Idempotency-Key` header (IETF draft, Stripe semantics): validity, scope,
the request fingerprint that tells a true replay from a reused key, and what a stored record
answers a new request with the same key."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from payflow_gateway.domain.errors import KeyProblem

MAX_KEY_LENGTH = 255


def check_key(value: str | None) -> str:
    if value is None:
        raise KeyProblem("idempotency_key_missing", "The Idempotency-Key header is required.")
    if not value or len(value) > MAX_KEY_LENGTH:
        raise KeyProblem(
            "idempotency_key_invalid", "The Idempotency-Key must be 1 to 255 characters long."
        )
    if not all(0x20 < ord(ch) < 0x7F for ch in value):
        raise KeyProblem(
            "idempotency_key_invalid", "The Idempotency-Key must be printable ASCII without spaces."
        )
    return value


def record_id(user_id: str, key: str) -> str:
    """Keys are scoped to the user: the same key from two users names two records."""
    return hashlib.sha256(f"{user_id}\n{key}".encode()).hexdigest()


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


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


def decide(existing: dict[str, Any], fingerprint: str, now: datetime) -> Claim | None:
    """What an existing, unexpired record answers; None when its lock has lapsed (take over)."""
    if existing["fingerprint"] != fingerprint:
        return Mismatch()
    if existing["state"] == "completed":
        return Replay(existing["status"], existing["body"])
    if existing["locked_until"] > now:
        return InProgress()
    return None
