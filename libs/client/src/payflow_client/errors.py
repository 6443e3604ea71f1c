"""One exception tree for everything the client raises.

    PayFlowError
    ├── APIError(status, code, detail, problem)      the API answered with a problem document
    │   ├── BadRequestError          400  invalid_cursor, idempotency_key_missing/_invalid, ...
    │   ├── AuthenticationError      401  not_authenticated, invalid_token, invalid_credentials, ...
    │   ├── PermissionDeniedError    403  forbidden
    │   ├── NotFoundError            404  wallet_not_found, transfer_not_found, ...
    │   ├── ConflictError            409  conflict, wallet_closed, email_taken, ...
    │   │   └── IdempotencyKeyInUseError   idempotency_key_in_use (retried by the client first)
    │   ├── ValidationError          422  validation_error, same_wallet, currency_mismatch, ...
    │   │   └── IdempotencyKeyReusedError  idempotency_key_reused
    │   ├── RateLimitedError         429  rate_limited
    │   ├── ServiceUnavailableError  503  service_unavailable
    │   └── ServerError              other 5xx
    ├── APIConnectionError           no answer (connection refused, dropped, timed out)
    ├── WaitTimeoutError             `transfers.wait` ran out of time
    └── WebhookVerificationError     a webhook whose signature or timestamp does not verify

The class is chosen by the problem document's `code` first (`error_class_for`), then by the
HTTP status, so a new code of a known family still lands in the right branch.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError as PydanticValidationError

from payflow_client.models import Problem


class PayFlowError(Exception):
    """The root of every error the client raises."""


class APIError(PayFlowError):
    """The API refused the request with an RFC 9457 problem document."""

    def __init__(self, status: int, code: str, detail: str, problem: Problem) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.problem = problem

    @property
    def request_id(self) -> str | None:
        """Quote it when reporting the error: it is in every server log line."""
        return self.problem.request_id

    @property
    def trace_id(self) -> str | None:
        return self.problem.trace_id

    @property
    def errors(self) -> list[dict[str, str]]:
        """Field errors of a `validation_error`: `[{"loc": "body.amount", "msg": ...}]`."""
        return list(self.problem.errors or [])


class BadRequestError(APIError):
    pass


class AuthenticationError(APIError):
    pass


class PermissionDeniedError(APIError):
    pass


class NotFoundError(APIError):
    pass


class ConflictError(APIError):
    pass


class IdempotencyKeyInUseError(ConflictError):
    """The first request with this key is still being processed; the client retries it."""


class ValidationError(APIError):
    pass


class IdempotencyKeyReusedError(ValidationError):
    """The key was already used for a different request: pick a new key for a new payment."""


class RateLimitedError(APIError):
    pass


class ServiceUnavailableError(APIError):
    pass


class ServerError(APIError):
    pass


class APIConnectionError(PayFlowError):
    """No answer came: connection refused or dropped, or a timeout. For a money-moving call
    the client has already retried with the same Idempotency-Key; retrying again with that key
    (`exc.idempotency_key`) is safe."""

    def __init__(self, message: str, idempotency_key: str | None = None) -> None:
        super().__init__(message)
        self.idempotency_key = idempotency_key


class WaitTimeoutError(PayFlowError):
    """The transfer was not terminal in time; `transfer` is the last state seen."""

    def __init__(self, message: str, transfer: Any = None) -> None:
        super().__init__(message)
        self.transfer = transfer


class WebhookVerificationError(PayFlowError):
    """The webhook is not authentic or too old; answer it with 400 and do not act on it."""


_BY_CODE: dict[str, type[APIError]] = {
    "idempotency_key_in_use": IdempotencyKeyInUseError,
    "idempotency_key_reused": IdempotencyKeyReusedError,
    "idempotency_key_missing": BadRequestError,
    "idempotency_key_invalid": BadRequestError,
    "invalid_cursor": BadRequestError,
    "not_authenticated": AuthenticationError,
    "invalid_token": AuthenticationError,
    "invalid_credentials": AuthenticationError,
    "token_reused": AuthenticationError,
    "forbidden": PermissionDeniedError,
    "rate_limited": RateLimitedError,
    "service_unavailable": ServiceUnavailableError,
    "validation_error": ValidationError,
}

_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
    429: RateLimitedError,
    503: ServiceUnavailableError,
}


def error_class_for(status: int, code: str) -> type[APIError]:
    """The exception class for a problem: by `code`, else by family (`*_not_found` is a
    NotFoundError whatever the status), else by HTTP status."""
    if code in _BY_CODE:
        return _BY_CODE[code]
    if code.endswith("_not_found"):
        return NotFoundError
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    return APIError


def api_error(status: int, body: Any, reason: str = "") -> APIError:
    """The typed exception for an error answer; a body that is not a problem document (a proxy's
    HTML page) still gives a problem with a code derived from the status."""
    problem: Problem | None = None
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        try:
            problem = Problem.model_validate({**body, "status": status})
        except PydanticValidationError:  # an odd field must not hide the error itself
            problem = Problem(
                status=status,
                code=body["code"],
                detail=str(body.get("detail") or reason or "The request failed."),
            )
    if problem is None:
        problem = Problem(
            type="about:blank",
            title=reason or "Error",
            status=status,
            detail=str(body)[:500] if body else (reason or "The request failed."),
            code=_STATUS_CODES.get(status, "error" if status < 500 else "internal_error"),
        )
    cls = error_class_for(status, problem.code)
    return cls(status, problem.code, problem.detail, problem)


_STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    422: "validation_error",
    429: "rate_limited",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}
