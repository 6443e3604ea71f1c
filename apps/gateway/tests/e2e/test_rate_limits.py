"""Rate limits at the gateway process with its default budgets: honest heavy use from one address
never meets them, a password guesser does, and a user cannot hold transfer streams without end."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

USERS = 300
READS_PER_USER = 15
TOPPING_UP = 50
MAX_STREAMS = 10  # PAYFLOW_MAX_STREAMS_PER_USER's default


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_three_hundred_users_and_five_thousand_requests_from_one_address_are_never_limited(
    gateways: Any, users: Any
) -> None:
    answers: list[httpx.Response] = []
    gate = asyncio.Semaphore(20)

    async def call(client: httpx.AsyncClient, method: str, path: str, **kw: Any) -> httpx.Response:
        async with gate:
            answer = await client.request(method, path, **kw)
        answers.append(answer)
        return answer

    async def one_user(client: httpx.AsyncClient, i: int) -> None:
        email = users.new_email(f"busy{i}")
        registered = await call(
            client,
            "POST",
            "/v1/auth/register",
            json={"email": email, "password": users.password, "name": f"Busy {i}"},
        )
        login = await call(
            client, "POST", "/v1/auth/login", json={"email": email, "password": users.password}
        )
        if registered.status_code != 201 or login.status_code != 200:
            return
        headers = bearer(login.json()["access_token"])
        wallet = registered.json()["wallet"]["id"]
        for n in range(READS_PER_USER):
            path = ("/v1/auth/me", "/v1/wallets", "/v1/transfers")[n % 3]
            await call(client, "GET", path, headers=headers)
        if i < TOPPING_UP:
            await call(
                client,
                "POST",
                f"/v1/wallets/{wallet}/top-ups",
                json={"amount": 100},
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            )

    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(
        base_url=gateways.main.url("gateway"), timeout=60, limits=limits
    ) as client:
        await asyncio.gather(*(one_user(client, i) for i in range(USERS)))
    assert len(answers) >= 5_000
    statuses = Counter(a.status_code for a in answers)
    assert set(statuses) <= {200, 201, 202}, statuses
    for answer in answers:
        assert answer.headers["ratelimit"] and answer.headers["ratelimit-policy"]


async def test_sixty_failed_logins_for_one_email_within_a_minute_meet_a_lock(users: Any) -> None:
    _, email = await users.register(users.new_email("guessed"))
    answers = [
        await users.api.post("/v1/auth/login", json={"email": email, "password": f"guess-{n}"})
        for n in range(60)
    ]
    statuses = [a.status_code for a in answers]
    # Five failures in a row lock the login (PAYFLOW_LOGIN_LOCKOUT_AFTER_FAILURES's default);
    # each failure after a lock doubles the next one, so most guesses meet a lock however
    # fast they come.
    assert statuses[:5] == [401] * 5
    assert set(statuses) == {401, 429} and statuses.count(429) > statuses.count(401)
    locked = next(a for a in answers if a.status_code == 429)
    assert locked.json()["code"] == "rate_limited"
    assert int(locked.headers["retry-after"]) >= 1
    assert locked.headers["ratelimit"] and locked.headers["ratelimit-policy"]


async def test_a_user_holds_at_most_ten_transfer_streams_at_once(users: Any) -> None:
    payer, tokens = await users.signed_up()
    payee, _ = await users.signed_up()
    headers = bearer(tokens["access_token"])
    # The debit step never answers: the transfer stays in flight while the streams are opened.
    fault = await users.api.post(
        "/v1/sandbox/faults", json={"step": "debit", "mode": "timeout"}, headers=headers
    )
    assert fault.status_code == 201, fault.text
    started = await users.api.post(
        "/v1/transfers",
        json={
            "source_wallet_id": payer["wallet"]["id"],
            "destination_wallet_id": payee["wallet"]["id"],
            "amount": 1,
            "currency": "USD",
        },
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert started.status_code == 202, started.text
    path = f"/v1/transfers/{started.json()['id']}/stream"
    async with contextlib.AsyncExitStack() as open_streams:
        streams = [
            await open_streams.enter_async_context(users.api.stream("GET", path, headers=headers))
            for _ in range(MAX_STREAMS)
        ]
        assert [s.status_code for s in streams] == [200] * MAX_STREAMS
        one_more = await users.api.get(path, headers=headers)
        assert one_more.status_code == 429, one_more.text
        assert one_more.json()["code"] == "too_many_streams"
        assert int(one_more.headers["retry-after"]) >= 1
    # Every stream is closed: its lease is given back and a stream opens again.
    deadline = time.monotonic() + 15
    while True:
        async with users.api.stream("GET", path, headers=headers) as again:
            if again.status_code == 200:
                break
        assert time.monotonic() < deadline, "the closed streams' leases were never given back"
        await asyncio.sleep(0.2)
