"""Verifying PayFlow webhooks (Standard Webhooks, https://www.standardwebhooks.com).

Every delivery carries three headers:

    webhook-id          the event id (the same on every retry: deduplicate on it)
    webhook-timestamp   Unix seconds when this attempt was signed
    webhook-signature   space-separated `v1,<base64 HMAC-SHA256>` of "{id}.{timestamp}.{body}",
                        one per live secret (two during a secret rotation)

The HMAC key is the base64 part of the endpoint's `whsec_...` secret. `verify` checks the
signature over the raw body exactly as received (do not re-serialise the JSON), in constant
time, and refuses a timestamp more than five minutes away from now (replays).

    from payflow_client.webhooks import verify
    event = verify(request_body_bytes, request_headers, "whsec_...")
    if event.type == "transfer.completed": ...
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence

from pydantic import ValidationError as PydanticValidationError

from payflow_client.errors import WebhookVerificationError
from payflow_client.models import Event

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
DEFAULT_TOLERANCE_S = 5 * 60
SIGNATURE_VERSION = "v1"


def _key(secret: str) -> bytes:
    encoded = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    try:
        key = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise ValueError("a webhook secret is `whsec_` followed by base64") from None
    if not key:
        raise ValueError("a webhook secret may not be empty")
    return key


def sign(secret: str, message_id: str, timestamp: int, payload: bytes | str) -> str:
    """The `v1,<base64>` signature of one message: for receivers' own tests."""
    body = payload.encode() if isinstance(payload, str) else payload
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise WebhookVerificationError(f"missing the {name} header")


def verify_signature(
    payload: bytes | str,
    headers: Mapping[str, str],
    secret: str | Sequence[str],
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bytes:
    """Checks the headers against the raw payload; returns the payload as bytes. Raises
    `WebhookVerificationError` for a missing header, an old or future timestamp, or no valid
    signature under any of the given secrets (give old and new during a rotation)."""
    body = payload.encode() if isinstance(payload, str) else bytes(payload)
    message_id = _header(headers, "webhook-id")
    raw_timestamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise WebhookVerificationError("the webhook-timestamp is not a number") from None
    current = time.time() if now is None else now
    if timestamp < current - tolerance_s:
        raise WebhookVerificationError("the webhook is too old (webhook-timestamp)")
    if timestamp > current + tolerance_s:
        raise WebhookVerificationError("the webhook-timestamp is in the future")
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets:
        raise ValueError("give at least one webhook secret")
    expected = [sign(s, message_id, timestamp, body).encode() for s in secrets]
    matched = False
    for candidate in signatures.split():
        version, _, _ = candidate.partition(",")
        if version != SIGNATURE_VERSION:
            continue
        for wanted in expected:
            # Every pair is compared, without stopping early, in constant time.
            matched |= hmac.compare_digest(candidate.encode(), wanted)
    if not matched:
        raise WebhookVerificationError("no webhook-signature matches the secret")
    return body


def verify(
    payload: bytes | str,
    headers: Mapping[str, str],
    secret: str | Sequence[str],
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> Event:
    """Verifies a delivery and returns its typed event (`event.data` is the transfer)."""
    body = verify_signature(payload, headers, secret, tolerance_s=tolerance_s, now=now)
    try:
        return Event.model_validate(json.loads(body))
    except (ValueError, PydanticValidationError) as exc:
        raise WebhookVerificationError(f"the signed payload is not a PayFlow event: {exc}") from exc


class Webhooks:
    """`client.webhooks.verify(...)`: the same functions, reachable from a client."""

    verify = staticmethod(verify)
    verify_signature = staticmethod(verify_signature)
    sign = staticmethod(sign)
