"""The rate-limit middleware: charges each /v1 request to its budgets before it runs, answers
429 `rate_limited` when one is spent, and tells every answer where its caller stands."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from payflow_gateway.domain.rate_limits import (
    classify,
    policy_header,
    ratelimit_header,
    retry_after_s,
)
from payflow_gateway.throttling.request_limits import RequestLimits
from payflow_service import problem_response

COMPONENT_KEY = "request_limits"


def client_ip(scope: Scope) -> str:
    """The peer address as uvicorn reports it (behind a proxy: from X-Forwarded-For, when the
    proxy is listed in FORWARDED_ALLOW_IPS)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_class = (
            classify(scope["method"], scope["path"]) if scope["type"] == "http" else None
        )
        limits = _request_limits(scope) if request_class is not None else None
        if request_class is None or limits is None:
            await self.app(scope, receive, send)
            return
        authorization = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        principal = limits.principal_of(authorization)
        standings = await limits.charge(request_class, client_ip(scope), principal)
        if not standings:  # Redis did not answer: nothing counted, nothing to tell
            await self.app(scope, receive, send)
            return
        headers = {
            "RateLimit-Policy": policy_header(limits.budgets(request_class, principal)),
            "RateLimit": ratelimit_header(standings),
        }
        if not all(standing.allowed for standing in standings):
            response = problem_response(
                429,
                "rate_limited",
                "Too many requests; retry after the number of seconds in Retry-After.",
                headers={**headers, "Retry-After": str(retry_after_s(standings))},
            )
            await response(scope, receive, send)
            return
        encoded = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

        async def send_with_standing(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *encoded]
            await send(message)

        await self.app(scope, receive, send_with_standing)


def _request_limits(scope: Scope) -> RequestLimits | None:
    app = scope.get("app")
    runtime = getattr(getattr(app, "state", None), "runtime", None)
    if runtime is None:
        return None
    limits: RequestLimits | None = runtime.components.get(COMPONENT_KEY)
    return limits
