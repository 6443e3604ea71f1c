"""The gateway in production: HSTS on every answer, metrics only on their own port, and no start
with password hashes too cheap to slow down a guesser."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from payflow_devstack.stores import free_port
from payflow_testing import ServiceStack
from payflow_testing.stores import StoreEndpoints

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def metrics_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def production_gateway(
    stores: StoreEndpoints, tmp_path_factory: pytest.TempPathFactory, metrics_port: int
) -> Iterator[ServiceStack]:
    with ServiceStack(
        mongo_url=stores.mongo_url,
        redis_url=stores.redis_url,
        work_dir=tmp_path_factory.mktemp("production-gateway"),
        services=("gateway",),
        extra_env={
            "PAYFLOW_ENV": "production",
            "PAYFLOW_JWT_SECRET": secrets.token_urlsafe(48),
            "PAYFLOW_METRICS_PORT": str(metrics_port),
        },
    ) as stack:
        yield stack


async def test_every_answer_carries_hsts_in_production(production_gateway: ServiceStack) -> None:
    async with httpx.AsyncClient(base_url=production_gateway.url("gateway")) as client:
        for answer in (
            await client.get("/healthz"),
            await client.get("/v1/auth/me"),
            await client.post("/v1/auth/login", json={}),
        ):
            assert answer.headers["strict-transport-security"].startswith("max-age=31536000")
            assert answer.headers["x-content-type-options"] == "nosniff"


async def test_metrics_are_served_on_their_own_port_and_not_on_the_public_one(
    production_gateway: ServiceStack, metrics_port: int
) -> None:
    async with httpx.AsyncClient(base_url=production_gateway.url("gateway")) as client:
        assert (await client.get("/healthz")).status_code == 200
        public = await client.get("/metrics")
        assert public.status_code == 404
        assert public.json()["code"] == "not_found"
        private = await client.get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert private.status_code == 200
        assert "http_requests_total" in private.text


@pytest.mark.parametrize("rounds", ["4", "9"])
def test_the_gateway_refuses_to_start_in_production_with_cheap_password_hashes(
    rounds: str, stores: Any
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYFLOW_")}
    env.update(
        {
            "PAYFLOW_ENV": "production",
            "PAYFLOW_MONGO_URL": stores.mongo_url,
            "PAYFLOW_REDIS_URL": stores.redis_url,
            "PAYFLOW_INTERNAL_TOKEN": secrets.token_urlsafe(32),
            "PAYFLOW_JWT_SECRET": secrets.token_urlsafe(48),
            "PAYFLOW_BCRYPT_ROUNDS": rounds,
            "PAYFLOW_GATEWAY_PORT": "1",
        }
    )
    started = subprocess.run(
        [sys.executable, "-m", "payflow_gateway"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode != 0
    assert f"PAYFLOW_BCRYPT_ROUNDS is {rounds}; production needs at least 10" in started.stderr
