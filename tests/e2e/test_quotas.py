"""Per-user quotas through the public API, every process running: concurrent creations stop at
the cap exactly, a refusal is a problem document with the stable code `quota_exceeded`, and it
changes nothing. Defaults (10 wallets, 20 API keys, 10 webhook endpoints, 20 fault rules);
delivery retries per hour are 3 in the e2e stack (E2E_ENV)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from payflow_testing.receiver import Receiver

pytestmark = pytest.mark.e2e


def refused_for_quota(answer: httpx.Response, status: int = 409) -> bool:
    return (
        answer.status_code == status
        and answer.headers["content-type"].startswith("application/problem+json")
        and answer.json()["code"] == "quota_exceeded"
    )


async def create_many(client: httpx.AsyncClient, path: str, bodies: list[Any]) -> list[Any]:
    return list(await asyncio.gather(*(client.post(path, json=body) for body in bodies)))


async def test_concurrent_creations_stop_exactly_at_each_cap(customers: Any) -> None:
    user = await customers("quota")
    client = user.client

    wallets = await create_many(client, "/v1/wallets", [{"currency": "EUR"}] * 15)
    assert sum(a.status_code == 201 for a in wallets) == 9  # the default wallet is the tenth
    assert sum(refused_for_quota(a) for a in wallets) == 6
    listed = (await client.get("/v1/wallets", params={"limit": 100})).json()["data"]
    assert len(listed) == 10

    keys = await create_many(client, "/v1/api-keys", [{"name": f"k{n}"} for n in range(25)])
    assert sum(a.status_code == 201 for a in keys) == 20
    assert sum(refused_for_quota(a) for a in keys) == 5
    first_key = next(a.json()["id"] for a in keys if a.status_code == 201)
    assert (await client.delete(f"/v1/api-keys/{first_key}")).status_code == 204
    assert (await client.post("/v1/api-keys", json={"name": "after"})).status_code == 201
    assert refused_for_quota(await client.post("/v1/api-keys", json={"name": "one more"}))

    endpoint = {"url": "http://127.0.0.1:9/never", "event_types": ["transfer.failed"]}
    endpoints = await create_many(client, "/v1/webhook-endpoints", [endpoint] * 12)
    assert sum(a.status_code == 201 for a in endpoints) == 10
    assert sum(refused_for_quota(a) for a in endpoints) == 2
    listed = (await client.get("/v1/webhook-endpoints", params={"limit": 100})).json()["data"]
    assert len(listed) == 10

    rule = {"step": "credit", "mode": "reject", "match_metadata": {"never": "matches"}}
    rules = await create_many(client, "/v1/sandbox/faults", [rule] * 25)
    assert sum(a.status_code == 201 for a in rules) == 20
    assert sum(refused_for_quota(a) for a in rules) == 5
    assert len((await client.get("/v1/sandbox/faults")).json()["data"]) == 20

    # Another user's caps are their own.
    other = await customers("other")
    assert (await other.client.post("/v1/wallets", json={"currency": "EUR"})).status_code == 201


async def test_manual_delivery_retries_are_capped_per_hour(customers: Any) -> None:
    user = await customers("retrier")
    receiver = Receiver()
    receiver.start()
    try:
        created = await user.client.post(
            "/v1/webhook-endpoints",
            json={"url": receiver.url("/retried"), "event_types": ["transfer.completed"]},
        )
        assert created.status_code == 201, created.text
        endpoint_id = created.json()["id"]
        await user.top_up(100)
        deliveries: list[Any] = []
        deadline = time.monotonic() + 30
        while not deliveries:
            assert time.monotonic() < deadline, "no delivery was made"
            await asyncio.sleep(0.2)
            page = await user.client.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries")
            deliveries = page.json()["data"]
        delivery_path = f"/v1/webhook-deliveries/{deliveries[0]['id']}"
        for _ in range(3):
            assert (await user.client.post(f"{delivery_path}/retry")).status_code == 202

        async def settled() -> dict[str, Any]:
            deadline = time.monotonic() + 30
            while True:
                delivery: dict[str, Any] = (await user.client.get(delivery_path)).json()
                if delivery["status"] == "succeeded":
                    return delivery
                assert time.monotonic() < deadline, delivery
                await asyncio.sleep(0.2)

        # A retry makes the delivery pending at once, until the worker has sent it again.
        before = await settled()
        refused = await user.client.post(f"{delivery_path}/retry")
        assert refused_for_quota(refused, 429), refused.text
        assert 1 <= int(refused.headers["retry-after"]) <= 3600
        # This one changed nothing: the delivery is not pending again.
        assert (await user.client.get(delivery_path)).json() == before
    finally:
        receiver.stop()
