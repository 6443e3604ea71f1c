"""`PAYFLOW_ENV=production`: the sandbox disappears, live API keys, and placeholder secrets refuse
to start."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_support import register

from payflow_testing import ServiceStack
from payflow_testing.stores import StoreEndpoints

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def production(
    stores: StoreEndpoints, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceStack]:
    with ServiceStack(
        mongo_url=stores.mongo_url,
        redis_url=stores.redis_url,
        work_dir=tmp_path_factory.mktemp("production"),
        services=("wallet", "ledger", "orchestrator", "gateway"),
        extra_env={
            "PAYFLOW_ENV": "production",
            "PAYFLOW_JWT_SECRET": secrets.token_urlsafe(48),
            "PAYFLOW_BCRYPT_ROUNDS": "10",  # the least production accepts
        },
    ) as stack:
        yield stack


async def test_the_sandbox_is_not_there_in_production(production: ServiceStack) -> None:
    customer = await register(production.url("gateway"), "live")
    try:
        top_up = await customer.client.post(
            f"/v1/wallets/{customer.wallet_id}/top-ups",
            json={"amount": 100},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert (top_up.status_code, top_up.json()["code"]) == (404, "not_found")
        faults = await customer.client.post(
            "/v1/sandbox/faults", json={"step": "debit", "mode": "reject"}
        )
        assert faults.status_code == 404
        assert (await customer.client.get("/v1/sandbox/faults")).status_code == 404
        key = await customer.client.post("/v1/api-keys", json={"name": "live"})
        assert key.status_code == 201
        assert key.json()["key"].startswith("pf_live_")
        assert customer.wallet_id.startswith("wal_")
        assert await customer.balance() == 0
    finally:
        await customer.client.aclose()


@pytest.mark.parametrize("service", ["payflow_gateway", "payflow_wallet"])
def test_a_placeholder_secret_refuses_to_start_in_production(service: str, stores: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYFLOW_")}
    env.update(
        {
            "PAYFLOW_ENV": "production",
            "PAYFLOW_MONGO_URL": stores.mongo_url,
            "PAYFLOW_REDIS_URL": stores.redis_url,
            "PAYFLOW_INTERNAL_TOKEN": "dev-internal-token-change-me",
            "PAYFLOW_GATEWAY_PORT": "1",
            "PAYFLOW_WALLET_PORT": "1",
        }
    )
    started = subprocess.run(
        [sys.executable, "-m", service], env=env, capture_output=True, text=True, timeout=60
    )
    assert started.returncode != 0
    assert "placeholder" in started.stderr


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"PAYFLOW_BUS_SIGNING_KEYS": None}, "PAYFLOW_BUS_SIGNING_KEYS (KEY 1) is a placeholder"),
        (
            {"PAYFLOW_BUS_SIGNING_KEYS": "dev-bus-signing-key-change-me-0123456789"},
            "PAYFLOW_BUS_SIGNING_KEYS (KEY 1) is a placeholder",
        ),
        ({"PAYFLOW_REDIS_PASSWORD": None}, "PAYFLOW_REDIS_PASSWORD is not set"),
        (
            {"PAYFLOW_REDIS_PASSWORD": "dev-redis-password-change-me"},
            "REDIS_PASSWORD is a placeholder",
        ),
    ],
)
def test_a_process_on_the_bus_needs_a_real_bus_key_and_redis_password_in_production(
    stores: StoreEndpoints, change: dict[str, str | None], refusal: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYFLOW_")}
    env.update(
        {
            "PAYFLOW_ENV": "production",
            "PAYFLOW_MONGO_URL": stores.mongo_url,
            "PAYFLOW_REDIS_URL": stores.redis_url_without_password,
            "PAYFLOW_REDIS_PASSWORD": stores.redis_password or "a-real-redis-password",
            "PAYFLOW_INTERNAL_TOKEN": secrets.token_urlsafe(24),
            "PAYFLOW_BUS_SIGNING_KEYS": secrets.token_hex(32),
            "PAYFLOW_WALLET_PORT": "1",
        }
    )
    for name, value in change.items():
        if value is None:
            env.pop(name)
        else:
            env[name] = value
    started = subprocess.run(
        [sys.executable, "-m", "payflow_wallet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode != 0
    assert refusal in started.stderr
