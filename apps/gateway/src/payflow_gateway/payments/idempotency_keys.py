"""Pure rules of the `Idempotency-Key` header (IETF draft, Stripe semantics): validity, scope
and the request fingerprint that tells a true replay from a reused key."""

from __future__ import annotations

import hashlib
import json
from typing import Any

MAX_KEY_LENGTH = 255


class KeyProblem(ValueError):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


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
