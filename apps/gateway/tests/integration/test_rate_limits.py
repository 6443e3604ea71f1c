"""Rate limits and the login lock of gateway apps run in process on the real stores, with small
budgets: 429 `rate_limited` with Retry-After and the RateLimit fields, budgets per address and
per principal, shared by every replica through Redis, locks that slow a guesser down and end."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from payflow_gateway.main import create_app
from payflow_gateway.settings import GatewaySettings

pytestmark = pytest.mark.integration

ADMIN = "root@payflow.dev"
PASSWORD = "root-password-123"


@pytest.fixture
def settings_for(stores: Any, unique: str) -> Callable[..., GatewaySettings]:
    def build(**overrides: Any) -> GatewaySettings:
        values: dict[str, Any] = {
            "env": "test",
            "mongo_url": stores.mongo_url,
            "redis_url": stores.redis_url,
            "database_prefix": f"t{unique}",
            "stream_prefix": f"t{unique}",
            "jwt_secret": "s" * 40,
            "bcrypt_rounds": 4,
            "bootstrap_admin_email": ADMIN,
            "bootstrap_admin_password": PASSWORD,
            **overrides,
        }
        return GatewaySettings(_env_file=None, **values)  # type: ignore[call-arg]

    return build


@contextlib.asynccontextmanager
async def gateway(settings: GatewaySettings) -> AsyncIterator[Callable[[str], httpx.AsyncClient]]:
    """A running gateway app; the callable gives a client seen as coming from an address."""
    app = create_app(settings)
    clients: list[httpx.AsyncClient] = []

    def client_from(ip: str) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(ip, 40000)), base_url="http://gw"
        )
        clients.append(client)
        return client

    async with app.router.lifespan_context(app):
        try:
            yield client_from
        finally:
            for client in clients:
                await client.aclose()


async def log_in(client: httpx.AsyncClient, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/v1/auth/login", json={"email": ADMIN, "password": password})


async def bearer(client: httpx.AsyncClient) -> dict[str, str]:
    login = await log_in(client)
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def standing(response: httpx.Response) -> tuple[str, int, int]:
    name, remaining, reset = re.fullmatch(
        r'"([^"]+)";r=(\d+);t=(\d+)', response.headers["ratelimit"]
    ).groups()  # type: ignore[union-attr]
    return name, int(remaining), int(reset)


def assert_rate_limited(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == "rate_limited"
    assert int(response.headers["retry-after"]) >= 1
    return body


async def test_every_answer_tells_its_policies_and_where_the_caller_stands(
    settings_for: Callable[..., GatewaySettings],
) -> None:
    settings = settings_for(rate_limit_reads_per_principal="50/minute")
    async with gateway(settings) as client_from:
        client = client_from("10.0.0.1")
        headers = await bearer(client)
        first = await client.get("/v1/auth/me", headers=headers)
        second = await client.get("/v1/auth/me", headers=headers)
        missing = await client.get("/v1/wallets/not-an-id", headers=headers)
        assert [first.status_code, second.status_code, missing.status_code] == [200, 200, 404]
        assert first.headers["ratelimit-policy"] == (
            '"reads-ip-60s";q=60000;w=60, "reads-user-60s";q=50;w=60'
        )
        assert [standing(r)[:2] for r in (first, second, missing)] == [
            ("reads-user-60s", 49),
            ("reads-user-60s", 48),
            ("reads-user-60s", 47),
        ]
        assert 0 < standing(first)[2] <= 60
        anonymous = await client.get("/v1/auth/me")
        assert anonymous.status_code == 401
        assert anonymous.headers["ratelimit-policy"] == '"reads-ip-60s";q=60000;w=60'
        assert "ratelimit" not in (await client.get("/healthz")).headers


async def test_a_principal_past_its_budget_is_refused_and_others_are_not(
    settings_for: Callable[..., GatewaySettings],
) -> None:
    settings = settings_for(rate_limit_reads_per_principal="3/minute")
    async with gateway(settings) as client_from:
        client = client_from("10.0.0.2")
        admin = await bearer(client)
        key = await client.post("/v1/api-keys", json={"name": "ci"}, headers=admin)
        assert key.status_code == 201  # the first of three reads (no money moves)
        for _ in range(2):
            assert (await client.get("/v1/auth/me", headers=admin)).status_code == 200
        refused = await client.get("/v1/auth/me", headers=admin)
        assert_rate_limited(refused)
        assert standing(refused)[:2] == ("reads-user-60s", 0)
        assert int(refused.headers["retry-after"]) <= 60
        # The API key is a principal of its own; a login (auth budget) is not a read.
        api_key = {"Authorization": f"Bearer {key.json()['key']}"}
        assert (await client.get("/v1/auth/me", headers=api_key)).status_code == 200
        assert (await log_in(client)).status_code == 200


async def test_each_address_has_its_own_budget(
    settings_for: Callable[..., GatewaySettings],
) -> None:
    settings = settings_for(rate_limit_reads_per_ip="2/minute")
    async with gateway(settings) as client_from:
        first, second = client_from("10.0.1.1"), client_from("10.0.1.2")
        assert [(await first.get("/v1/auth/me")).status_code for _ in range(2)] == [401, 401]
        assert_rate_limited(await first.get("/v1/auth/me"))
        assert (await second.get("/v1/auth/me")).status_code == 401


async def test_money_moving_requests_have_a_budget_apart_from_reads(
    settings_for: Callable[..., GatewaySettings],
) -> None:
    settings = settings_for(rate_limit_money_per_principal="2/minute")
    async with gateway(settings) as client_from:
        client = client_from("10.0.2.1")
        admin = await bearer(client)

        async def pay() -> httpx.Response:
            # Not a valid transfer (422): it is charged all the same, before it is read.
            return await client.post(
                "/v1/transfers", json={}, headers={**admin, "Idempotency-Key": "k"}
            )

        assert [(await pay()).status_code for _ in range(2)] == [422, 422]
        refused = await pay()
        assert_rate_limited(refused)
        assert standing(refused)[0] == "money-user-60s"
        assert (await client.get("/v1/auth/me", headers=admin)).status_code == 200


async def test_registration_and_login_share_a_budget_per_address(
    settings_for: Callable[..., GatewaySettings],
) -> None:
    settings = settings_for(rate_limit_auth_per_ip="3/minute")
    async with gateway(settings) as client_from:
        client = client_from("10.0.3.1")
        answers = [
            await client.post("/v1/auth/register", json={}),
            await log_in(client, "wrong-password"),
            await client.post("/v1/auth/refresh", json={"refresh_token": "x"}),
        ]
        assert [a.status_code for a in answers] == [422, 401, 401]
        assert_rate_limited(await log_in(client))
        assert (await log_in(client_from("10.0.3.2"))).status_code == 200


async def test_budgets_are_shared_by_every_gateway_replica(
    settings_for: Callable[..., GatewaySettings],
) -> None:
    settings = settings_for(rate_limit_reads_per_principal="3/minute")
    async with gateway(settings) as replica_a, gateway(settings) as replica_b:
        admin = await bearer(replica_a("10.0.4.1"))
        a, b = replica_a("10.0.4.1"), replica_b("10.0.4.2")
        assert (await a.get("/v1/auth/me", headers=admin)).status_code == 200
        assert (await b.get("/v1/auth/me", headers=admin)).status_code == 200
        assert (await a.get("/v1/auth/me", headers=admin)).status_code == 200
        assert_rate_limited(await b.get("/v1/auth/me", headers=admin))


async def test_failed_logins_in_a_row_lock_the_login_for_a_while_on_every_replica(
    settings_for: Callable[..., GatewaySettings],
) -> None:
    settings = settings_for(login_lockout_after_failures=3, login_lockout_base_s=30)
    async with gateway(settings) as replica_a, gateway(settings) as replica_b:
        a, b = replica_a("10.0.5.1"), replica_b("10.0.5.1")
        assert (await log_in(a, "wrong-1")).status_code == 401
        assert (await log_in(b, "wrong-2")).status_code == 401
        assert (await log_in(a, "wrong-3")).status_code == 401  # the third: locked from now
        for attempt in (log_in(b), log_in(a, "wrong-4")):
            body = assert_rate_limited(await attempt)  # the right password waits too
            assert "login" in body["detail"]
        assert 1 < int((await log_in(b)).headers["retry-after"]) <= 30
        # The lock is for this email from this address: the owner elsewhere logs in.
        assert (await log_in(replica_b("10.0.5.2"))).status_code == 200


async def test_a_lock_ends_on_its_own_and_a_success_forgets_the_failures(
    settings_for: Callable[..., GatewaySettings],
) -> None:
    settings = settings_for(login_lockout_after_failures=2, login_lockout_base_s=0.5)
    async with gateway(settings) as client_from:
        client = client_from("10.0.6.1")
        assert [(await log_in(client, "wrong")).status_code for _ in range(2)] == [401, 401]
        assert (await log_in(client)).status_code == 429
        deadline = time.monotonic() + 30
        while (answer := await log_in(client)).status_code == 429:
            assert time.monotonic() < deadline, "the lock never ended"
            await asyncio.sleep(0.1)
        assert answer.status_code == 200
        # Counting starts again from zero: one failure is one failure, not a third one.
        assert (await log_in(client, "wrong")).status_code == 401
        assert (await log_in(client)).status_code == 200


async def test_guesses_from_many_addresses_are_capped_per_email(
    settings_for: Callable[..., GatewaySettings],
) -> None:
    settings = settings_for(rate_limit_login_per_email="4/minute")
    async with gateway(settings) as client_from:
        answers = [await log_in(client_from(f"10.0.7.{i}"), "wrong") for i in range(4)]
        assert [a.status_code for a in answers] == [401] * 4
        assert_rate_limited(await log_in(client_from("10.0.7.99")))


async def test_without_redis_requests_go_through_unlimited(
    settings_for: Callable[..., GatewaySettings],
) -> None:
    from payflow_devstack.stores import free_port

    settings = settings_for(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with gateway(settings) as client_from:
        client = client_from("10.0.8.1")
        login = await log_in(client)
        assert login.status_code == 200, login.text
        assert "ratelimit" not in login.headers
        me = await client.get(
            "/v1/auth/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"}
        )
        assert me.status_code == 200
