"""Constants and helpers of the client's tests (importable: `libs/client/tests` is on pytest's
pythonpath, like `tests/e2e`)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from payflow_client import PayFlow

ADMIN_EMAIL = "client-admin@example.com"
ADMIN_PASSWORD = "client-admin-password"
PASSWORD = "a-long-enough-password"
JWT_SECRET = "client-tests-" + secrets.token_urlsafe(32)

# Short timings (as in tests/e2e) so that failures and retries settle in seconds.
STACK_ENV = {
    "PAYFLOW_BCRYPT_ROUNDS": "4",
    "PAYFLOW_STEP_TIMEOUT_S": "1.5",
    "PAYFLOW_FORWARD_STEP_MAX_SENDS": "3",
    "PAYFLOW_COMPENSATION_BACKOFF_MAX_S": "3",
    "PAYFLOW_SWEEPER_INTERVAL_S": "0.3",
    "PAYFLOW_STREAM_CLAIM_IDLE_MS": "2000",
    "PAYFLOW_STUCK_GRACE_S": "5",
    "PAYFLOW_WEBHOOK_RETRY_SCHEDULE": "1,2",
    "PAYFLOW_IDEMPOTENCY_LOCK_S": "5",
    "PAYFLOW_BOOTSTRAP_ADMIN_EMAIL": ADMIN_EMAIL,
    "PAYFLOW_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
    "PAYFLOW_JWT_SECRET": JWT_SECRET,
}


@dataclass
class Person:
    """A registered user, logged in through the client under test."""

    email: str
    password: str
    user_id: str
    wallet_id: str
    client: PayFlow


def expired_access_token(user_id: str) -> str:
    """An access token signed with the stack's key (the stack runs with JWT_SECRET) that expired
    an hour ago, minted with the gateway's own codec."""
    from payflow_gateway.auth.tokens import TokenCodec
    from payflow_gateway.domain.tokens import access_claims

    codec = TokenCodec({"k1": JWT_SECRET}, "k1", "payflow-gateway", "payflow")
    issued = datetime.now(UTC) - timedelta(hours=1)
    return codec.encode(access_claims(user_id, uuid.uuid4().hex, issued, timedelta(minutes=15)))
