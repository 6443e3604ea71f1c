"""Where the gateway's exceptions become problem documents (RFC 9457), and how its OpenAPI
document describes them.

- `PROBLEMS`: the exceptions answered with a fixed status, code and detail.
- `auth_failure_response`: the answer to an `AuthFailure`, a 401 with its `WWW-Authenticate`
  challenge (RFC 6750) or a 403, each counted in `payflow_auth_failures_total{reason}`.
- `SELF_ANSWERING`: exceptions answered by a handler of their own because the answer carries a
  header (`ServiceUnavailable`: 503 `service_unavailable` with `Retry-After`).
- `INTERNAL`: exceptions handled inside the gateway that never reach a route as such.
- `ANSWERED_BY_HANDLER`: the two above with their own handler (the layout test checks that every
  `GatewayError` is in `PROBLEMS`, `INTERNAL` or here).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from payflow_gateway.auth.metrics import AUTH_FAILURES
from payflow_gateway.domain.errors import (
    ApiKeyCollision,
    ApiKeyNotFound,
    AuthFailure,
    BootstrapAdminRefused,
    ClaimsRejected,
    EmailTaken,
    FaultRuleNotFound,
    Forbidden,
    GatewayError,
    IdempotencyKeyReused,
    InvalidCredentials,
    InvalidToken,
    KeyProblem,
    LinkCurrencyMismatch,
    LinkPaidFromItsWallet,
    NotAuthenticated,
    PayerCurrencyMismatch,
    PaymentLinkNotFound,
    RefundByNonRecipient,
    RefundOfIncompleteTransfer,
    SameWallet,
    SandboxOnly,
    ServiceUnavailable,
    TokenRejected,
    TokenReused,
    TransferCurrencyMismatch,
    TransferNotFound,
    WalletClosed,
    WalletNotFound,
)
from payflow_service import problem_response
from payflow_service.openapi import ProblemDocs
from payflow_service.problems import Problem

logger = logging.getLogger(__name__)

PROBLEMS: dict[type[Exception], Problem] = {
    EmailTaken: Problem(409, "email_taken", "An account with this email already exists."),
    ApiKeyNotFound: Problem(404, "api_key_not_found", "No such API key."),
    WalletNotFound: Problem(404, "wallet_not_found", "No such wallet."),
    WalletClosed: Problem(409, "wallet_closed", "The wallet is closed."),
    TransferNotFound: Problem(404, "transfer_not_found", "No such transfer."),
    PaymentLinkNotFound: Problem(404, "payment_link_not_found", "No such payment link."),
    FaultRuleNotFound: Problem(404, "fault_rule_not_found", "No such fault rule."),
    SandboxOnly: Problem(404, "not_found", "Not found."),
    IdempotencyKeyReused: Problem(
        422,
        "idempotency_key_reused",
        "This Idempotency-Key was already used with a different request body.",
    ),
    SameWallet: Problem(422, "same_wallet", "The source and destination wallets are the same."),
    LinkPaidFromItsWallet: Problem(
        422, "same_wallet", "A link cannot be paid from its own wallet."
    ),
    TransferCurrencyMismatch: Problem(
        422, "currency_mismatch", "Both wallets must hold the transfer's currency."
    ),
    LinkCurrencyMismatch: Problem(
        422, "currency_mismatch", "The link's currency must be its wallet's."
    ),
    PayerCurrencyMismatch: Problem(
        422, "currency_mismatch", "The source wallet must hold the link's currency."
    ),
    RefundByNonRecipient: Problem(
        422, "transfer_not_refundable", "Only the recipient of a transfer can refund it."
    ),
    RefundOfIncompleteTransfer: Problem(
        422, "transfer_not_refundable", "Only a completed transfer can be refunded."
    ),
}

SELF_ANSWERING: frozenset[type[GatewayError]] = frozenset({ServiceUnavailable})

INTERNAL: frozenset[type[Exception]] = frozenset(
    {
        # Turned into `InvalidToken` (bearer, sessions) or "no principal" (rate limits).
        TokenRejected,
        ClaimsRejected,
        # Answered 400 with its own code by `idempotency.run_idempotently`.
        KeyProblem,
        # Stops the start-up; never raised by a request.
        BootstrapAdminRefused,
        # 256 random bits collided: a bug, answered 500 like any other.
        ApiKeyCollision,
    }
)

# ---------------------------------------------------------------- authentication failures

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

AUTH_FAILURES_ANSWERED: frozenset[type[AuthFailure]] = frozenset(
    {NotAuthenticated, InvalidToken, TokenReused, InvalidCredentials, Forbidden}
)


ANSWERED_BY_HANDLER: frozenset[type[GatewayError]] = SELF_ANSWERING | {AuthFailure}


def auth_failure_response(failure: AuthFailure) -> JSONResponse:
    """The answer to an authentication failure, counted by reason."""
    AUTH_FAILURES.labels(reason=failure.reason).inc()
    if isinstance(failure, Forbidden):
        return problem_response(403, "forbidden", "This route is for administrators.")
    if isinstance(failure, NotAuthenticated):
        return problem_response(
            401,
            "not_authenticated",
            "Authentication is required: send `Authorization: Bearer <token or API key>`.",
            headers={"WWW-Authenticate": REALM},
        )
    if isinstance(failure, InvalidCredentials):
        return problem_response(
            401,
            "invalid_credentials",
            "The email or password is not correct.",
            headers={"WWW-Authenticate": REALM},
        )
    challenge = {"WWW-Authenticate": f'{REALM}, error="invalid_token"'}
    if isinstance(failure, TokenReused):
        logger.warning("a spent refresh token came back: its family is revoked")
        return problem_response(
            401,
            "token_reused",
            "This refresh token was already used; every session token issued from it is revoked.",
            headers=challenge,
        )
    logger.info("token refused", extra={"auth_failure": failure.reason})
    return problem_response(
        401,
        "invalid_token",
        _TOKEN_DETAILS.get(failure.reason, "The token is not valid."),
        headers=challenge,
    )


def service_unavailable_response(failure: ServiceUnavailable) -> JSONResponse:
    return problem_response(
        503, "service_unavailable", failure.detail, headers={"Retry-After": "1"}
    )


async def _on_auth_failure(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AuthFailure)
    return auth_failure_response(exc)


async def _on_unavailable(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceUnavailable)
    return service_unavailable_response(exc)


def install_handlers(app: FastAPI) -> None:
    """The handlers of `ANSWERED_BY_HANDLER` (the catalogue's are installed by the app factory)."""
    app.add_exception_handler(AuthFailure, _on_auth_failure)
    app.add_exception_handler(ServiceUnavailable, _on_unavailable)


# ---------------------------------------------------------------- the OpenAPI document

DOCS = ProblemDocs(
    {
        400: "Bad request: `invalid_cursor` (a cursor this list did not hand out), `bad_request` "
        "(a body that is not readable JSON)",
        401: "Not authenticated: `not_authenticated` or `invalid_token`, with `WWW-Authenticate`",
        403: "An administrator route: `forbidden`",
        404: "Not found",
        409: "Conflict",
        410: "Gone",
        413: "The request body is over `PAYFLOW_MAX_REQUEST_BODY_BYTES`: `payload_too_large`",
        422: "The request is not valid: `validation_error` with `errors: [{loc, msg}]`",
        429: "A rate limit is spent: `rate_limited`, with `Retry-After` and the `RateLimit` fields",
        503: "A service behind the gateway is unavailable: `service_unavailable`; retry",
    }
)
problem_responses = DOCS.responses
