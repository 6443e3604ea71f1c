"""The wallet routes over HTTP, with the real wallet and ledger services behind the gateway: every
wallet is visible only to its owner, and someone else's answers exactly as a missing one."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

WALLET_FIELDS = {"id", "owner_id", "currency", "balance", "status", "created_at", "updated_at"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def a_user(users: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """(registration answer, auth headers) of a new user."""
    registered, tokens = await users.signed_up()
    return registered, bearer(tokens["access_token"])


def assert_wallet_not_found(response: httpx.Response) -> None:
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "wallet_not_found"


async def test_the_default_wallet_is_the_only_one_listed_after_registration(users: Any) -> None:
    registered, headers = await a_user(users)
    listed = await users.api.get("/v1/wallets", headers=headers)
    assert listed.status_code == 200
    body = listed.json()
    assert body["next_cursor"] is None
    assert [w["id"] for w in body["data"]] == [registered["wallet"]["id"]]
    assert set(body["data"][0]) == WALLET_FIELDS


async def test_a_user_opens_a_wallet_in_another_currency(users: Any) -> None:
    registered, headers = await a_user(users)
    opened = await users.api.post("/v1/wallets", json={"currency": "EUR"}, headers=headers)
    assert opened.status_code == 201, opened.text
    wallet = opened.json()
    assert set(wallet) == WALLET_FIELDS
    assert wallet["owner_id"] == registered["user"]["id"]
    assert (wallet["currency"], wallet["balance"], wallet["status"]) == ("EUR", 0, "active")
    fetched = await users.api.get(f"/v1/wallets/{wallet['id']}", headers=headers)
    assert fetched.json() == wallet
    listed = (await users.api.get("/v1/wallets", headers=headers)).json()["data"]
    assert {w["currency"] for w in listed} == {"USD", "EUR"}


@pytest.mark.parametrize("currency", ["eur", "XYZ", "EURO", "", 978, None])
async def test_an_unsupported_or_malformed_currency_is_refused(users: Any, currency: Any) -> None:
    _, headers = await a_user(users)
    response = await users.api.post("/v1/wallets", json={"currency": currency}, headers=headers)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "validation_error"
    assert [e["loc"] for e in body["errors"]] == ["body.currency"]


async def test_someone_elses_wallet_answers_exactly_as_a_missing_one(users: Any) -> None:
    owner, _ = await a_user(users)
    _, intruder = await a_user(users)
    theirs = owner["wallet"]["id"]
    for path in (f"/v1/wallets/{theirs}", f"/v1/wallets/{theirs}/entries"):
        assert_wallet_not_found(await users.api.get(path, headers=intruder))
    for action in ("freeze", "unfreeze"):
        assert_wallet_not_found(
            await users.api.post(f"/v1/wallets/{theirs}/{action}", headers=intruder)
        )
    missing = await users.api.get("/v1/wallets/wal_doesnotexist", headers=intruder)
    assert_wallet_not_found(missing)
    stranger = await users.api.get(f"/v1/wallets/{theirs}", headers=intruder)
    comparable = ("type", "title", "status", "detail", "code")
    assert {k: stranger.json()[k] for k in comparable} == {k: missing.json()[k] for k in comparable}


async def test_the_owner_freezes_and_unfreezes_a_wallet(users: Any) -> None:
    registered, headers = await a_user(users)
    wallet_id = registered["wallet"]["id"]
    frozen = await users.api.post(f"/v1/wallets/{wallet_id}/freeze", headers=headers)
    assert frozen.status_code == 200, frozen.text
    assert frozen.json()["status"] == "frozen"
    fetched = await users.api.get(f"/v1/wallets/{wallet_id}", headers=headers)
    assert fetched.json()["status"] == "frozen"
    thawed = await users.api.post(f"/v1/wallets/{wallet_id}/unfreeze", headers=headers)
    assert thawed.json()["status"] == "active"


async def test_an_intruder_cannot_freeze_a_wallet(users: Any) -> None:
    owner, owner_headers = await a_user(users)
    _, intruder = await a_user(users)
    wallet_id = owner["wallet"]["id"]
    assert_wallet_not_found(
        await users.api.post(f"/v1/wallets/{wallet_id}/freeze", headers=intruder)
    )
    still = await users.api.get(f"/v1/wallets/{wallet_id}", headers=owner_headers)
    assert still.json()["status"] == "active"


async def test_a_new_wallet_has_no_ledger_entries(users: Any) -> None:
    registered, headers = await a_user(users)
    entries = await users.api.get(
        f"/v1/wallets/{registered['wallet']['id']}/entries", headers=headers
    )
    assert entries.status_code == 200, entries.text
    assert entries.json() == {"data": [], "next_cursor": None}


async def test_wallets_are_listed_page_by_page(users: Any) -> None:
    _, headers = await a_user(users)
    for currency in ("EUR", "GBP"):
        await users.api.post("/v1/wallets", json={"currency": currency}, headers=headers)
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = (await users.api.get("/v1/wallets", params=params, headers=headers)).json()
        seen += [w["currency"] for w in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == ["EUR", "GBP", "USD"]


@pytest.mark.parametrize("limit", [0, 101, "many"])
async def test_a_limit_outside_1_to_100_is_refused(users: Any, limit: Any) -> None:
    _, headers = await a_user(users)
    response = await users.api.get("/v1/wallets", params={"limit": limit}, headers=headers)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


async def test_the_wallet_routes_need_authentication_and_accept_an_api_key(users: Any) -> None:
    registered, headers = await a_user(users)
    assert (await users.api.get("/v1/wallets")).status_code == 401
    key = (await users.api.post("/v1/api-keys", json={"name": "k"}, headers=headers)).json()
    listed = await users.api.get("/v1/wallets", headers=bearer(key["key"]))
    assert [w["id"] for w in listed.json()["data"]] == [registered["wallet"]["id"]]


async def test_top_ups_appear_in_the_wallets_entries_newest_first(users: Any) -> None:
    registered, headers = await a_user(users)
    wallet_id = registered["wallet"]["id"]
    transfers = []
    for amount in (1250, 700):
        response = await users.api.post(
            f"/v1/wallets/{wallet_id}/top-ups",
            json={"amount": amount},
            headers={**headers, "Idempotency-Key": f"top-up-{amount}", "Prefer": "wait=10"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "completed", response.text
        transfers.append(response.json()["id"])
    wallet = (await users.api.get(f"/v1/wallets/{wallet_id}", headers=headers)).json()
    assert wallet["balance"] == 1950
    first = await users.api.get(f"/v1/wallets/{wallet_id}/entries?limit=1", headers=headers)
    assert first.status_code == 200, first.text
    page = first.json()
    assert page["next_cursor"]
    [newest] = page["data"]
    assert {k: newest[k] for k in ("transfer_id", "direction", "amount", "currency", "kind")} == {
        "transfer_id": transfers[1],
        "direction": "credit",
        "amount": 700,
        "currency": "USD",
        "kind": "top_up",
    }
    rest = await users.api.get(
        f"/v1/wallets/{wallet_id}/entries",
        params={"limit": 1, "cursor": page["next_cursor"]},
        headers=headers,
    )
    assert [(e["transfer_id"], e["amount"]) for e in rest.json()["data"]] == [(transfers[0], 1250)]
