"""RFC 9457 problem details: one error shape, with a stable `code`, for every service."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from payflow_observability import current_request_id, current_trace_id

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

_CODES_BY_STATUS = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


class ProblemError(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.errors = errors
        self.headers = headers


@dataclass(frozen=True)
class Problem:
    """How one domain exception is answered: status, stable `code`, and a detail for people."""

    status: int
    code: str
    detail: str

    def error(self, **extra: Any) -> ProblemError:
        return ProblemError(self.status, self.code, self.detail, **extra)


ProblemCatalogue = Mapping[type[Exception], Problem]
"""A service's one mapping from its exception tree to problem documents (its `errors.py`).
Routes raise domain exceptions and never map them by hand; the most specific class listed wins,
so a root may stand for its whole subtree."""


def subclasses(root: type[Exception]) -> Iterator[type[Exception]]:
    """Every class under `root` (for the test that each has a problem in the catalogue)."""
    for child in root.__subclasses__():
        yield child
        yield from subclasses(child)


def problem_for(exc: Exception, catalogue: ProblemCatalogue) -> Problem | None:
    for kind in type(exc).__mro__:
        if issubclass(kind, Exception) and kind in catalogue:
            return catalogue[kind]
    return None


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://docs.payflow.dev/problems/{code.replace('_', '-')}",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors is not None:
        body["errors"] = errors
    trace_id = current_trace_id()
    if trace_id:
        body["trace_id"] = trace_id
    request_id = current_request_id()
    if request_id:
        body["request_id"] = request_id
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


def validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": _loc(err.get("loc", ())), "msg": str(err.get("msg", ""))} for err in exc.errors()
    ]


def install_problem_handlers(app: FastAPI, catalogue: ProblemCatalogue | None = None) -> None:
    async def on_problem(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return problem_response(
            exc.status,
            exc.code,
            exc.detail,
            title=exc.title,
            errors=exc.errors,
            headers=exc.headers,
        )

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return problem_response(
            422, "validation_error", "The request is not valid.", errors=validation_errors(exc)
        )

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _CODES_BY_STATUS.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return problem_response(
            exc.status_code, code, detail, headers=dict(exc.headers) if exc.headers else None
        )

    async def on_unhandled(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            500,
            "internal_error",
            "An internal error occurred; quote the request id when reporting it.",
        )

    async def on_domain(_: Request, exc: Exception) -> JSONResponse:
        problem = problem_for(exc, catalogue or {})
        assert problem is not None
        return problem_response(problem.status, problem.code, problem.detail)

    for kind in catalogue or {}:
        app.add_exception_handler(kind, on_domain)
    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unhandled)
