"""The rate limits of the public API: who a request is charged to (its client address, and its
principal, the user of an access token or the API key, when it carries one), the budgets of each
request class from the settings, and the middleware that charges each /v1 request before it runs,
answers 429 `rate_limited` when a budget is spent, and tells every answer where its caller stands.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from payflow_gateway.auth.tokens import TokenCodec
from payflow_gateway.domain.api_keys import digest_of, looks_like_api_key
from payflow_gateway.domain.errors import TokenRejected
from payflow_gateway.domain.rate_limits import (
    Budget,
    RequestClass,
    Standing,
    classify,
    policy_header,
    ratelimit_header,
    retry_after_s,
)
from payflow_gateway.domain.tokens import TokenType
from payflow_gateway.ports import Budgets, Limit, limits_of
from payflow_gateway.settings import GatewaySettings
from payflow_service import problem_response


@dataclass(frozen=True)
class ClassLimits:
    per_ip: list[Limit]
    per_principal: list[Limit]


class RequestLimits:
    def __init__(
        self,
        keeper: Budgets,
        codec: TokenCodec,
        table: dict[RequestClass, ClassLimits],
    ) -> None:
        self._keeper = keeper
        self._codec = codec
        self._table = table

    def principal_of(self, authorization: str | None) -> str | None:
        """`usr_...` for a valid access token, `key:<digest>` for an API key, else None.

        A token is checked for its signature only (no store is read): one that is revoked or
        expired is refused by authentication anyway, after being charged here."""
        scheme, _, credential = (authorization or "").partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            return None
        if looks_like_api_key(credential):
            return f"key:{digest_of(credential)[:32]}"
        try:
            return self._codec.decode(credential, TokenType.ACCESS).subject
        except TokenRejected:
            return None

    def budgets(self, request_class: RequestClass, principal: str | None) -> list[Budget]:
        limits = self._table[request_class]
        chosen = limits.per_ip + (limits.per_principal if principal else [])
        return [limit.budget for limit in chosen]

    async def charge(
        self, request_class: RequestClass, ip: str, principal: str | None
    ) -> list[Standing]:
        limits = self._table[request_class]
        charges = [(limit, ip) for limit in limits.per_ip]
        if principal is not None:
            charges += [(limit, principal) for limit in limits.per_principal]
        return await self._keeper.charge(charges)


def request_table(settings: GatewaySettings) -> dict[RequestClass, ClassLimits]:
    auth, money, reads = RequestClass.AUTH, RequestClass.MONEY, RequestClass.READS
    return {
        auth: ClassLimits(limits_of(auth, "ip", settings.rate_limit_auth_per_ip), []),
        money: ClassLimits(
            limits_of(money, "ip", settings.rate_limit_money_per_ip),
            limits_of(money, "user", settings.rate_limit_money_per_principal),
        ),
        reads: ClassLimits(
            limits_of(reads, "ip", settings.rate_limit_reads_per_ip),
            limits_of(reads, "user", settings.rate_limit_reads_per_principal),
        ),
    }


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
    """The composed `Components.request_limits` (None before start-up, or with limits off)."""
    state = getattr(scope.get("app"), "state", None)
    limits = getattr(getattr(state, "components", None), "request_limits", None)
    return limits if isinstance(limits, RequestLimits) else None
