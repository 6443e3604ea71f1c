"""Wiring of the rate limits, the login lockout and the stream cap into the gateway."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from limits.aio.storage import RedisStorage

from payflow_gateway.auth.tokens import TokenCodec
from payflow_gateway.domain.rate_limits import LockoutPolicy, RequestClass
from payflow_gateway.modules import GatewayModule
from payflow_gateway.settings import GatewaySettings
from payflow_gateway.throttling.budgets import BudgetKeeper, limits_of
from payflow_gateway.throttling.login_lockout import LoginThrottle, NoLoginThrottle
from payflow_gateway.throttling.middleware import COMPONENT_KEY as REQUEST_LIMITS
from payflow_gateway.throttling.request_limits import ClassLimits, RequestLimits
from payflow_gateway.throttling.stream_slots import StreamSlots
from payflow_service import ServiceRuntime

LOGIN_THROTTLE = "login_throttle"
STREAM_SLOTS = "stream_slots"


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


@contextlib.asynccontextmanager
async def compose_throttling(runtime: ServiceRuntime) -> AsyncIterator[None]:
    settings = runtime.settings
    assert isinstance(settings, GatewaySettings)
    prefix = f"{settings.stream_prefix}:gateway"
    runtime.components[STREAM_SLOTS] = StreamSlots(
        runtime.redis, prefix, settings.max_streams_per_user
    )
    if not settings.rate_limits_enabled:
        runtime.components[LOGIN_THROTTLE] = NoLoginThrottle()
        yield
        return
    # The runtime's connection pool: no second set of connections to Redis.
    storage = RedisStorage(
        "async+" + settings.redis_connection_url,
        implementation="redispy",
        key_prefix=f"{prefix}:ratelimit",
        connection_pool=runtime.redis.connection_pool,  # type: ignore[arg-type]  # options are typed as scalars
    )
    keeper = BudgetKeeper(storage)
    codec = TokenCodec(
        settings.signing_keys(), settings.jwt_key_id, settings.jwt_issuer, settings.jwt_audience
    )
    runtime.components[REQUEST_LIMITS] = RequestLimits(keeper, codec, request_table(settings))
    runtime.components[LOGIN_THROTTLE] = LoginThrottle(
        runtime.redis,
        prefix,
        keeper,
        limits_of("login", "email", settings.rate_limit_login_per_email),
        LockoutPolicy(
            after_failures=settings.login_lockout_after_failures,
            base_s=settings.login_lockout_base_s,
            max_s=settings.login_lockout_max_s,
            forget_after_s=settings.login_failures_forgotten_after_s,
        ),
    )
    yield


def throttling_module() -> GatewayModule:
    return GatewayModule(routers=[], compose=compose_throttling)


async def login_throttle(request: Request) -> LoginThrottle | NoLoginThrottle:
    throttle: LoginThrottle | NoLoginThrottle = request.app.state.runtime.components[LOGIN_THROTTLE]
    return throttle


async def stream_slots(request: Request) -> StreamSlots:
    slots: StreamSlots = request.app.state.runtime.components[STREAM_SLOTS]
    return slots


Logins = Annotated[LoginThrottle | NoLoginThrottle, Depends(login_throttle)]
Streams = Annotated[StreamSlots, Depends(stream_slots)]
