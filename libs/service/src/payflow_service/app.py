"""The FastAPI app factory shared by every service: lifespan composition root, health, metrics.

Each process calls `create_service_app` from its own `create_app()`; nothing is connected at
import time. The service's `compose` hook is its composition root: it receives the runtime (stores,
settings) once they are connected, wires its adapters and background loops, and tears them down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from beanie import Document, init_beanie
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_fastapi_instrumentator import Instrumentator
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from payflow_observability import configure_logging, configure_tracing, shutdown_tracing
from payflow_observability.store_metrics import StoreCommandCounter, as_upkeep
from payflow_service.internal_auth import INTERNAL_TOKEN_HEADER
from payflow_service.middleware import RequestContextMiddleware
from payflow_service.problems import ProblemCatalogue, install_problem_handlers
from payflow_settings import ServiceSettings

logger = logging.getLogger(__name__)


@dataclass
class ServiceRuntime:
    """What a composition root gets: connected stores, settings and a client for the others."""

    service: str
    settings: ServiceSettings
    mongo: AsyncMongoClient[dict[str, Any]]
    redis: Redis
    http: httpx.AsyncClient
    background: dict[str, asyncio.Task[Any]] = field(default_factory=dict)
    """Loops the process cannot work without (stream consumers, sweepers): readiness fails
    when one has stopped, so an orchestrator (or an operator) sees a crippled process."""

    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the process shuts down; every background loop watches it."""

    def start_loop(
        self, name: str, loop: Coroutine[Any, Any, Any], *, upkeep: bool = False
    ) -> asyncio.Task[Any]:
        """Run `loop` (which returns once `stopping` is set) for the process's lifetime; its
        end before shutdown makes the process unready. An `upkeep` loop (sweeper, pruner) has
        its store commands counted apart from the work of payments."""
        task = asyncio.create_task(as_upkeep(loop) if upkeep else loop, name=name)
        self.background[name] = task
        return task

    async def stop_loops(self, grace_s: float = 15.0) -> None:
        self.stopping.set()
        if self.background:
            await asyncio.wait(list(self.background.values()), timeout=grace_s)

    @property
    def database(self) -> Any:
        return self.mongo[self.settings.database_name]

    def client_for(self, service: str, timeout: float = 10.0) -> httpx.AsyncClient:
        """An httpx client for another service's internal API, carrying the service token."""
        return httpx.AsyncClient(
            base_url=self.settings.url_of(service),
            headers={INTERNAL_TOKEN_HEADER: self.settings.internal_token.get_secret_value()},
            timeout=timeout,
        )


Compose = Callable[[ServiceRuntime], AbstractAsyncContextManager[object]]
"""A service's composition root (`bootstrap.compose`): wires its adapters from the runtime,
starts its loops, yields its frozen `Components` (routes get them through
`payflow_service.components.provider`), and tears down what it opened."""


def mongo_client(url: str, service: str = "") -> AsyncMongoClient[dict[str, Any]]:
    listeners = [StoreCommandCounter(service)] if service else []
    return AsyncMongoClient(
        url,
        tz_aware=True,
        serverSelectionTimeoutMS=5000,
        connectTimeoutMS=5000,
        event_listeners=listeners,
    )


def redis_client(url: str) -> Redis:
    client: Redis = Redis.from_url(url, decode_responses=False, health_check_interval=30)
    return client


async def _ping_mongo(runtime: ServiceRuntime) -> None:
    await asyncio.wait_for(runtime.mongo.admin.command("ping"), timeout=2)


async def _ping_redis(runtime: ServiceRuntime) -> None:
    await asyncio.wait_for(runtime.redis.ping(), timeout=2)


def create_service_app(
    *,
    service: str,
    settings: ServiceSettings,
    document_models: Sequence[type[Document]] = (),
    routers: Sequence[APIRouter] = (),
    compose: Compose | None = None,
    title: str | None = None,
    description: str = "",
    public: bool = False,
    openapi_extra: dict[str, Any] | None = None,
    problems: ProblemCatalogue | None = None,
) -> FastAPI:
    """Build one service's app. `public` keeps the OpenAPI docs on (only the gateway)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(service, settings.log_level)
        configure_tracing(service, edge=public)
        mongo = mongo_client(settings.mongo_url, service)
        redis = redis_client(settings.redis_connection_url)
        http = httpx.AsyncClient(timeout=10.0)
        runtime = ServiceRuntime(
            service=service, settings=settings, mongo=mongo, redis=redis, http=http
        )
        app.state.runtime = runtime
        try:
            if document_models:
                await init_beanie(
                    database=mongo[settings.database_name], document_models=list(document_models)
                )
            if compose is not None:
                async with compose(runtime) as components:
                    app.state.components = components
                    logger.info("%s ready", service, extra={"env": settings.env.value})
                    try:
                        yield
                    finally:
                        # Loops stop first, while what they use (pools, clients) is still open.
                        await runtime.stop_loops()
            else:
                logger.info("%s ready", service, extra={"env": settings.env.value})
                yield
        finally:
            await http.aclose()
            await redis.aclose()
            await mongo.close()
            shutdown_tracing()

    app = FastAPI(
        title=title or f"PayFlow {service}",
        description=description,
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs" if public else None,
        redoc_url=None,
        openapi_url="/openapi.json" if public else None,
        **(openapi_extra or {}),
    )
    install_problem_handlers(app, problems)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        runtime: ServiceRuntime = app.state.runtime
        checks: dict[str, str] = {}
        for name, probe in (("mongo", _ping_mongo), ("redis", _ping_redis)):
            try:
                await probe(runtime)
                checks[name] = "ok"
            except Exception as exc:  # readiness reports any failure, it does not raise
                checks[name] = f"unavailable: {type(exc).__name__}"
        for name, task in runtime.background.items():
            checks[name] = "stopped" if task.done() else "ok"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "service": service, "checks": checks},
            status_code=200 if ready else 503,
        )

    for router in routers:
        app.include_router(router)

    Instrumentator(excluded_handlers=["/metrics", "/healthz", "/readyz"]).instrument(app).expose(
        app, endpoint="/metrics", include_in_schema=False
    )
    app.add_middleware(RequestContextMiddleware)
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="healthz,readyz,metrics", exclude_spans=["receive", "send"]
    )
    return app
