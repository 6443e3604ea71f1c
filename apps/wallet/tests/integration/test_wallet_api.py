"""The wallet's internal HTTP API, on the real stores (the gateway's view of wallets)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytestmark = pytest.mark.integration

WALLET_FIELDS = {"id", "owner_id", "currency", "balance", "status", "created_at", "updated_at"}


async def test_a_created_wallet_is_active_empty_and_readable(wallet_service: Any) -> None:
    client = wallet_service.client
    response = await client.post("/internal/wallets", json={"owner_id": "usr_1", "currency": "EUR"})
    assert response.status_code == 201
    wallet = response.json()
    assert set(wallet) == WALLET_FIELDS
    assert wallet["id"].startswith("wal_")
    assert (wallet["owner_id"], wallet["currency"], wallet["balance"], wallet["status"]) == (
        "usr_1",
        "EUR",
        0,
        "active",
    )
    assert wallet["created_at"].endswith("Z")
    assert (await client.get(f"/internal/wallets/{wallet['id']}")).json() == wallet


async def test_an_unknown_wallet_is_wallet_not_found(wallet_service: Any) -> None:
    for method, path in [
        ("GET", "/internal/wallets/wal_nope"),
        ("POST", "/internal/wallets/wal_nope/freeze"),
        ("POST", "/internal/wallets/wal_nope/unfreeze"),
    ]:
        response = await wallet_service.client.request(method, path)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "wallet_not_found"


@pytest.mark.parametrize(
    "body",
    [
        {"owner_id": "usr_1", "currency": "usd"},
        {"owner_id": "usr_1", "currency": "XYZ"},
        {"owner_id": "", "currency": "USD"},
        {"currency": "USD"},
        {"owner_id": "usr_1", "currency": "USD", "balance": 100},
    ],
)
async def test_a_wallet_with_a_bad_currency_or_owner_is_a_validation_error(
    wallet_service: Any, body: dict[str, Any]
) -> None:
    response = await wallet_service.client.post("/internal/wallets", json=body)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


async def test_every_route_refuses_a_caller_without_the_service_token(wallet_service: Any) -> None:
    client = wallet_service.client
    for headers in ({"X-Internal-Token": "wrong"}, {"X-Internal-Token": ""}):
        response = await client.get("/internal/wallets", headers=headers)
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_service_token"
    response = await client.post(
        "/internal/wallets",
        json={"owner_id": "usr_1", "currency": "USD"},
        headers={"X-Internal-Token": "wrong"},
    )
    assert response.status_code == 401


async def test_wallets_list_by_owner_or_all_in_cursor_pages_without_gaps(
    wallet_service: Any,
) -> None:
    mine = [await wallet_service.create_wallet("usr_a") for _ in range(5)]
    theirs = [await wallet_service.create_wallet("usr_b") for _ in range(2)]

    async def walk(params: dict[str, Any]) -> list[str]:
        ids: list[str] = []
        cursor = None
        while True:
            query = {**params, **({"cursor": cursor} if cursor else {})}
            page = (await wallet_service.client.get("/internal/wallets", params=query)).json()
            assert len(page["data"]) <= params["limit"]
            ids += [w["id"] for w in page["data"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return ids

    everyone = (await wallet_service.client.get("/internal/wallets", params={"limit": 100})).json()
    # Listed by (created_at, id): wallets created in one millisecond are ordered by id.
    in_order = [w["id"] for w in sorted(everyone["data"], key=lambda w: (w["created_at"], w["id"]))]
    assert sorted(in_order) == sorted(mine + theirs)
    assert await walk({"owner_id": "usr_a", "limit": 2}) == [i for i in in_order if i in mine]
    assert await walk({"limit": 3}) == in_order
    assert await walk({"owner_id": "usr_nobody", "limit": 5}) == []
    exact = (await wallet_service.client.get("/internal/wallets", params={"limit": 7})).json()
    assert exact["next_cursor"] is None and len(exact["data"]) == 7


@pytest.mark.parametrize(
    ("params", "status"),
    [({"cursor": "not-a-cursor"}, 400), ({"limit": 0}, 422), ({"limit": 101}, 422)],
)
async def test_a_bad_cursor_or_limit_is_refused(
    wallet_service: Any, params: dict[str, Any], status: int
) -> None:
    response = await wallet_service.client.get("/internal/wallets", params=params)
    assert response.status_code == status


async def test_freeze_and_unfreeze_are_idempotent_status_changes(wallet_service: Any) -> None:
    wallet_id = await wallet_service.create_wallet()
    client = wallet_service.client
    frozen = await client.post(f"/internal/wallets/{wallet_id}/freeze")
    assert frozen.status_code == 200 and frozen.json()["status"] == "frozen"
    again = await client.post(f"/internal/wallets/{wallet_id}/freeze")
    assert again.status_code == 200 and again.json() == frozen.json()
    active = await client.post(f"/internal/wallets/{wallet_id}/unfreeze")
    assert active.status_code == 200 and active.json()["status"] == "active"
    assert active.json()["updated_at"] >= frozen.json()["updated_at"]
    assert (await client.post(f"/internal/wallets/{wallet_id}/unfreeze")).json()[
        "status"
    ] == "active"


async def test_concurrent_freezes_and_unfreezes_all_answer_with_a_real_status(
    wallet_service: Any,
) -> None:
    wallet_id = await wallet_service.create_wallet()
    paths = [
        f"/internal/wallets/{wallet_id}/{'freeze' if i % 2 else 'unfreeze'}" for i in range(20)
    ]
    responses = await asyncio.gather(*(wallet_service.client.post(p) for p in paths))
    assert {r.status_code for r in responses} == {200}
    final = (await wallet_service.client.get(f"/internal/wallets/{wallet_id}")).json()
    assert final["status"] in {"active", "frozen"}


async def test_the_service_is_ready_when_its_stores_answer(wallet_service: Any) -> None:
    response = await wallet_service.client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {
        "mongo": "ok",
        "redis": "ok",
        "wallet-commands": "ok",
        "wallet-mark-pruner": "ok",
    }
