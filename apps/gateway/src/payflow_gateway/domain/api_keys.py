"""API key format: `pf_live_` (production) or `pf_test_` (elsewhere) + 32 random bytes, urlsafe.

Only the SHA-256 digest and a short display prefix are ever stored. A fast hash is enough here,
unlike passwords: the secret has 256 bits of entropy, so there is nothing to guess, and a
deterministic digest lets a request find its key with one indexed lookup.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

LIVE_PREFIX = "pf_live_"
TEST_PREFIX = "pf_test_"
RANDOM_BYTES = 32
# Characters of the random part kept for display: enough to tell keys apart, useless to guess.
DISPLAY_CHARS = 6


class ApiKeyStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


@dataclass(frozen=True)
class ApiKey:
    """A stored key, without its secret (only the digest and a display prefix are kept)."""

    id: str
    user_id: str
    name: str
    display_prefix: str
    created_at: datetime


@dataclass(frozen=True)
class MintedApiKey:
    secret: str
    """Shown to the client exactly once."""
    digest: str
    display_prefix: str


def key_prefix(live: bool) -> str:
    return LIVE_PREFIX if live else TEST_PREFIX


def looks_like_api_key(token: str) -> bool:
    return token.startswith((LIVE_PREFIX, TEST_PREFIX))


def is_accepted_here(token: str, live: bool) -> bool:
    """Live keys work only in production, test keys only outside it."""
    return token.startswith(key_prefix(live))


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def mint_api_key(random_bytes: bytes, live: bool) -> MintedApiKey:
    if len(random_bytes) < RANDOM_BYTES:
        raise ValueError(f"an API key needs at least {RANDOM_BYTES} random bytes")
    body = base64.urlsafe_b64encode(random_bytes).rstrip(b"=").decode()
    secret = key_prefix(live) + body
    return MintedApiKey(
        secret=secret,
        digest=digest_of(secret),
        display_prefix=secret[: len(key_prefix(live)) + DISPLAY_CHARS],
    )
