"""ASGI middleware: request ids in and out, a `traceparent` response header, one log per request."""

from __future__ import annotations

import logging
import re
import time
import uuid

from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from payflow_observability import request_id_var
from payflow_service.problems import problem_response

logger = logging.getLogger("payflow.access")

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                ctx = trace.get_current_span().get_span_context()
                if ctx.is_valid:
                    traceparent = f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{ctx.trace_flags:02x}"
                    headers.append((b"traceparent", traceparent.encode()))
                message["headers"] = headers
            await send(message)

        response_started = False

        async def send_tracking(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send_with_headers(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception:
            # Answered here, inside the request's context, so that the 500 carries the request id
            # (Starlette's outermost error middleware runs after the context is gone).
            logger.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if response_started:
                raise
            response = problem_response(
                500,
                "internal_error",
                "An internal error occurred; quote the request id when reporting it.",
            )
            await response(scope, receive, send_with_headers)
        finally:
            path = scope.get("path", "")
            if path not in _QUIET_PATHS:
                logger.info(
                    "%s %s -> %s",
                    scope.get("method"),
                    path,
                    status_holder["status"],
                    extra={
                        "http_method": scope.get("method"),
                        "http_path": path,
                        "http_status": status_holder["status"],
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )
            request_id_var.reset(token)
