"""The shared service runtime against real stores: health, readiness, problems, request ids,
and the internal service token."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from payflow_service import InternalCaller, ProblemError, create_service_app
from payflow_settings import ServiceSettings

pytestmark = pytest.mark.integration

router = APIRouter()


class Order(BaseModel):
    amount: int


@router.post("/internal/orders")
async def place_order(order: Order, _: InternalCaller) -> dict[str, int]:
    if order.amount == 13:
        raise ProblemError(409, "unlucky_amount", "13 is refused here.")
    if order.amount == 666:
        raise RuntimeError("secret internal detail: db password hunter2")
    return {"amount": order.amount}


def build(stores: Any, unique: str, **overrides: Any) -> FastAPI:
    settings = ServiceSettings(
        _env_file=None,  # type: ignore[call-arg]
        env="test",
        service_name="probe",
        mongo_url=overrides.pop("mongo_url", stores.mongo_url),
        redis_url=stores.redis_url,
        database_prefix=f"t{unique}",
        stream_prefix=f"t{unique}",
        internal_token="test-token-0123456789",
    )
    return create_service_app(service="probe", settings=settings, routers=[router])


@pytest.fixture
async def client(stores: Any, unique: str) -> AsyncIterator[httpx.AsyncClient]:
    app = build(stores, unique)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://probe") as http:
            yield http


async def test_health_readiness_and_metrics_answer(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok", "service": "probe"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"mongo": "ok", "redis": "ok"}
    assert "http_requests_total" in (await client.get("/metrics")).text


async def test_readiness_is_503_when_a_store_is_unreachable(stores: Any, unique: str) -> None:
    app = build(stores, unique, mongo_url="mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=300")
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://probe") as http,
    ):
        ready = await http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["mongo"].startswith("unavailable")
    assert ready.json()["checks"]["redis"] == "ok"


async def test_internal_routes_refuse_a_missing_or_wrong_service_token(
    client: httpx.AsyncClient,
) -> None:
    for headers in ({}, {"X-Internal-Token": "wrong"}):
        refused = await client.post("/internal/orders", json={"amount": 1}, headers=headers)
        assert refused.status_code == 401
        assert refused.json()["code"] == "invalid_service_token"
    accepted = await client.post(
        "/internal/orders",
        json={"amount": 1},
        headers={"X-Internal-Token": "test-token-0123456789"},
    )
    assert accepted.json() == {"amount": 1}


async def test_errors_are_problem_documents_with_stable_codes(client: httpx.AsyncClient) -> None:
    token = {"X-Internal-Token": "test-token-0123456789"}
    invalid = await client.post("/internal/orders", json={"amount": "x"}, headers=token)
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"
    body = invalid.json()
    assert body["code"] == "validation_error"
    assert body["errors"][0]["loc"] == "body.amount"
    domain = await client.post("/internal/orders", json={"amount": 13}, headers=token)
    assert (domain.status_code, domain.json()["code"]) == (409, "unlucky_amount")
    missing = await client.get("/nowhere")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


async def test_a_500_hides_internals_but_carries_the_request_id(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        crashed = await client.post(
            "/internal/orders",
            json={"amount": 666},
            headers={"X-Internal-Token": "test-token-0123456789", "X-Request-Id": "req-abc-123"},
        )
    assert crashed.status_code == 500
    body = crashed.json()
    assert body["code"] == "internal_error"
    assert body["request_id"] == "req-abc-123"
    assert "hunter2" not in crashed.text
    assert "Traceback" not in crashed.text
    assert crashed.headers["x-request-id"] == "req-abc-123"


async def test_a_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/healthz", headers={"X-Request-Id": "abc-1"})
    assert echoed.headers["x-request-id"] == "abc-1"
    generated = await client.get("/healthz", headers={"X-Request-Id": "bad id with spaces"})
    assert len(generated.headers["x-request-id"]) == 32


async def test_readiness_fails_when_a_watched_background_loop_has_stopped(
    stores: Any, unique: str
) -> None:
    import asyncio
    import contextlib

    from payflow_service import ServiceRuntime

    async def short_lived_loop() -> None:
        raise RuntimeError("the consumer died")

    @contextlib.asynccontextmanager
    async def compose(runtime: ServiceRuntime) -> AsyncIterator[None]:
        runtime.start_loop("stream-consumer", short_lived_loop())
        yield

    settings = ServiceSettings(
        _env_file=None,  # type: ignore[call-arg]
        env="test",
        mongo_url=stores.mongo_url,
        redis_url=stores.redis_url,
        database_prefix=f"t{unique}",
    )
    app = create_service_app(service="probe", settings=settings, compose=compose)
    async with app.router.lifespan_context(app):
        await asyncio.sleep(0.05)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://probe"
        ) as http:
            ready = await http.get("/readyz")
        task = app.state.runtime.background["stream-consumer"]
        assert isinstance(task.exception(), RuntimeError)
    assert ready.status_code == 503
    assert ready.json()["checks"]["stream-consumer"] == "stopped"
