"""Headers of the gateway's answers: nothing is sniffed, nothing holding a token is stored by a
cache, and HSTS is left to production."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_every_answer_says_nosniff_whatever_its_status(users: Any) -> None:
    _, tokens = await users.signed_up()
    answers = [
        await users.api.get("/healthz"),
        await users.api.get("/openapi.json"),
        await users.api.get("/v1/auth/me", headers=bearer(tokens["access_token"])),
        await users.api.get("/v1/auth/me"),
        await users.api.get("/v1/wallets/wal_0", headers=bearer(tokens["access_token"])),
        await users.api.post("/v1/auth/register", json={}),
        await users.api.post(
            "/v1/transfers",
            content=b"x" * (65 * 1024),
            headers={**bearer(tokens["access_token"]), "Idempotency-Key": uuid.uuid4().hex},
        ),
        await users.api.get("/no/such/route"),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 401, 404, 422, 413, 404]
    for answer in answers:
        assert answer.headers["x-content-type-options"] == "nosniff", answer.request.url


async def test_token_and_secret_answers_are_never_stored_by_a_cache(users: Any) -> None:
    _, email = await users.register()
    login = await users.api.post(
        "/v1/auth/login", json={"email": email, "password": users.password}
    )
    tokens = login.json()
    refreshed = await users.api.post(
        "/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    api_key = await users.api.post(
        "/v1/api-keys", json={"name": "ci"}, headers=bearer(refreshed.json()["access_token"])
    )
    failed_login = await users.api.post(
        "/v1/auth/login", json={"email": email, "password": "not the password"}
    )
    assert [login.status_code, refreshed.status_code, api_key.status_code] == [200, 200, 201]
    assert failed_login.status_code == 401
    for answer in (login, refreshed, api_key, failed_login):
        assert answer.headers["cache-control"] == "no-store", answer.request.url


async def test_hsts_is_left_to_production(users: Any) -> None:
    answer = await users.api.get("/healthz")
    assert "strict-transport-security" not in answer.headers


async def test_metrics_stay_on_the_public_port_outside_production(api: httpx.AsyncClient) -> None:
    metrics = await api.get("/metrics")
    assert metrics.status_code == 200
    assert "http_requests_total" in metrics.text
