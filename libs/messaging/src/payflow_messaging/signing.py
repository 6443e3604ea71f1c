"""HMAC-SHA256 signatures of stream messages, so that reaching Redis is not enough to move money.

The publisher signs the exact bytes of the envelope it writes, together with the stream's name
(a message copied to another stream does not verify there), with the first key it holds; the
consumer accepts a signature made with any key it holds, which is how keys are rotated (add the
new key second everywhere, then put it first, then drop the old one). A signature travels beside
the envelope, in the entry's `signature` field, as `v1=<hex digest>`.

Replaying a signed message is not prevented here: every participant answers a repeated command
with the reply it recorded the first time (docs/design.md, guarantee 3).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from enum import StrEnum

SIGNATURE_FIELD = b"signature"
VERSION = b"v1="


class Rejection(StrEnum):
    """Why a consumer refused a message before reading it (the `reason` of the metric)."""

    MISSING_SIGNATURE = "missing_signature"
    BAD_SIGNATURE = "bad_signature"


class BusSigner:
    """Signs with the first key and verifies with every key (the current one first)."""

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        encoded = [k.encode() if isinstance(k, str) else bytes(k) for k in keys]
        if not encoded or not all(encoded):
            raise ValueError("a bus signer needs at least one non-empty key")
        self._keys = tuple(encoded)

    @staticmethod
    def _digest(key: bytes, stream: str, body: bytes) -> bytes:
        # The stream name and the body, separated by a byte no stream name contains.
        mac = hmac.new(key, stream.encode() + b"\n", hashlib.sha256)
        mac.update(body)
        return mac.hexdigest().encode()

    def sign(self, stream: str, body: bytes) -> bytes:
        return VERSION + self._digest(self._keys[0], stream, body)

    def check(self, stream: str, body: bytes, signature: bytes | None) -> Rejection | None:
        """None when `signature` is one of ours over (stream, body); else why it is refused."""
        if not signature:
            return Rejection.MISSING_SIGNATURE
        if not signature.startswith(VERSION):
            return Rejection.BAD_SIGNATURE
        given = signature[len(VERSION) :]
        valid = False
        for key in self._keys:
            # Every key is tried, so the time taken does not tell which one matched.
            valid |= hmac.compare_digest(given, self._digest(key, stream, body))
        return None if valid else Rejection.BAD_SIGNATURE
