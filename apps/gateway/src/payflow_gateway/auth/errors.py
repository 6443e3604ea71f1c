"""The problem answers of authentication: every 401 carries `WWW-Authenticate` (RFC 6750) and is
counted in `payflow_auth_failures_total{reason}`."""

from __future__ import annotations

import logging

from payflow_gateway.auth.metrics import AUTH_FAILURES
from payflow_service import ProblemError

logger = logging.getLogger(__name__)

REALM = 'Bearer realm="payflow"'

_TOKEN_DETAILS = {
    "expired_token": "The token has expired.",
    "bad_signature": "The token's signature is not valid.",
    "unknown_key_id": "The token was signed with a key this service does not know.",
    "wrong_token_type": "This kind of token cannot be used here.",
    "malformed_token": "The token is malformed.",
    "unknown_api_key": "The API key is unknown or revoked.",
    "wrong_environment_api_key": "The API key belongs to another environment.",
    "unknown_user": "The token's user no longer exists.",
    "refresh_token_invalid": "The refresh token is not valid; log in again.",
}


def not_authenticated() -> ProblemError:
    AUTH_FAILURES.labels(reason="missing_credentials").inc()
    return ProblemError(
        401,
        "not_authenticated",
        "Authentication is required: send `Authorization: Bearer <token or API key>`.",
        headers={"WWW-Authenticate": REALM},
    )


def invalid_token(reason: str) -> ProblemError:
    AUTH_FAILURES.labels(reason=reason).inc()
    logger.info("token refused", extra={"auth_failure": reason})
    return ProblemError(
        401,
        "invalid_token",
        _TOKEN_DETAILS.get(reason, "The token is not valid."),
        headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
    )


def token_reused() -> ProblemError:
    AUTH_FAILURES.labels(reason="token_reused").inc()
    logger.warning("a spent refresh token came back: its family is revoked")
    return ProblemError(
        401,
        "token_reused",
        "This refresh token was already used; every session token issued from it is revoked.",
        headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
    )


def invalid_credentials() -> ProblemError:
    AUTH_FAILURES.labels(reason="invalid_credentials").inc()
    return ProblemError(
        401,
        "invalid_credentials",
        "The email or password is not correct.",
        headers={"WWW-Authenticate": REALM},
    )


def forbidden() -> ProblemError:
    AUTH_FAILURES.labels(reason="forbidden").inc()
    return ProblemError(403, "forbidden", "This route is for administrators.")
