"""Hostile input at the gateway process, with the real services behind it: bodies over the cap are
refused before they are read, an id of the wrong shape names nothing (however it is escaped), and
malformed filters, cursors and metadata keys are the client's error, never a 5xx."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

pytestmark = pytest.mark.e2e

CAP = 64 * 1024  # PAYFLOW_MAX_REQUEST_BODY_BYTES's default
PROBLEM_JSON = "application/problem+json"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    return body


async def a_user(users: Any) -> tuple[dict[str, Any], dict[str, str]]:
    registered, tokens = await users.signed_up()
    return registered, bearer(tokens["access_token"])


async def top_up(api: httpx.AsyncClient, headers: dict[str, str], wallet: str, amount: int) -> None:
    response = await api.post(
        f"/v1/wallets/{wallet}/top-ups",
        json={"amount": amount},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex, "Prefer": "wait=10"},
    )
    assert response.status_code == 200 and response.json()["status"] == "completed", response.text


async def pay(
    api: httpx.AsyncClient, headers: dict[str, str], source: str, destination: str, amount: int
) -> dict[str, Any]:
    response = await api.post(
        "/v1/transfers",
        json={
            "source_wallet_id": source,
            "destination_wallet_id": destination,
            "amount": amount,
            "currency": "USD",
        },
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex, "Prefer": "wait=10"},
    )
    assert response.status_code == 200, response.text
    transfer: dict[str, Any] = response.json()
    assert transfer["status"] == "completed", transfer
    return transfer


# ---------------------------------------------------------------- bodies over the cap


@contextlib.asynccontextmanager
async def raw_connection(
    base_url: str,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """A bare TCP connection to the gateway, to send exactly the bytes a test chooses."""
    url = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=15)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


def request_head(
    token: str, framing: str | None, method: str = "POST", path: str = "/v1/transfers"
) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: gateway",
        f"Authorization: Bearer {token}",
        "Content-Type: application/json",
        f"Idempotency-Key: {uuid.uuid4().hex}",
        *([framing] if framing else []),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def assert_payload_too_large(status: int, headers: dict[str, str], body: bytes) -> None:
    assert status == 413, body
    assert headers["content-type"].startswith(PROBLEM_JSON)
    assert httpx.Response(413, content=body).json()["code"] == "payload_too_large"


async def test_a_declared_body_over_the_cap_is_refused_before_a_byte_of_it_is_sent(
    users: Any, gateways: Any
) -> None:
    _, tokens = await users.signed_up()
    async with raw_connection(gateways.main.url("gateway")) as (reader, writer):
        writer.write(request_head(tokens["access_token"], "Content-Length: 1048576"))
        await writer.drain()
        # Nothing of the announced megabyte is sent: the answer cannot have waited for it.
        assert_payload_too_large(*await read_answer(reader))


async def test_a_chunked_body_is_refused_once_past_the_cap_while_the_client_is_still_sending(
    users: Any, gateways: Any
) -> None:
    _, tokens = await users.signed_up()
    chunk = b"x" * 16 * 1024
    async with raw_connection(gateways.main.url("gateway")) as (reader, writer):
        writer.write(request_head(tokens["access_token"], "Transfer-Encoding: chunked"))
        for _ in range(2 * CAP // len(chunk)):
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        await writer.drain()
        # Twice the cap is on the wire and the body is not finished (no last chunk): had the
        # gateway waited for the whole body, no answer would come.
        assert_payload_too_large(*await read_answer(reader))
        # The client finishes its body, which is discarded, and the connection serves on.
        writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n0\r\n\r\n")
        writer.write(request_head(tokens["access_token"], None, "GET", "/v1/auth/me"))
        await writer.drain()
        status, _, me = await read_answer(reader)
        assert status == 200, me


async def test_a_body_under_the_cap_is_read_and_validated(users: Any) -> None:
    registered, headers = await a_user(users)
    wallet = registered["wallet"]["id"]
    response = await users.api.post(
        "/v1/transfers",
        json={
            "source_wallet_id": wallet,
            "destination_wallet_id": wallet,
            "amount": 1,
            "currency": "USD",
            "description": "d" * (CAP - 1024),
        },
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    body = assert_problem(response, 422, "validation_error")
    assert [e["loc"] for e in body["errors"]] == ["body.description"]


# ---------------------------------------------------------------- ids


async def test_an_escaped_transfer_id_never_refunds_another_transfer(users: Any) -> None:
    alice, alice_headers = await a_user(users)
    bob, bob_headers = await a_user(users)
    await top_up(users.api, alice_headers, alice["wallet"]["id"], 1_000)
    paid = await pay(users.api, alice_headers, alice["wallet"]["id"], bob["wallet"]["id"], 300)

    async def refund(path_id: str) -> httpx.Response:
        return await users.api.post(
            f"/v1/transfers/{path_id}/refund",
            headers={**bob_headers, "Idempotency-Key": uuid.uuid4().hex, "Prefer": "wait=10"},
        )

    assert_problem(await refund(f"{paid['id']}%23a"), 404, "transfer_not_found")
    refunded = await refund(paid["id"])
    assert refunded.status_code == 200 and refunded.json()["status"] == "completed", refunded.text
    for alias in (f"{paid['id']}%23a", f"{paid['id']}%3Fx=1", f"{paid['id']}%20"):
        assert_problem(await refund(alias), 404, "transfer_not_found")
    # An escaped "/" is a path separator to the router: no route matches.
    assert_problem(await refund(f"{paid['id']}%2F..%2F{paid['id']}"), 404, "not_found")
    listed = (await users.api.get("/v1/transfers", headers=bob_headers)).json()["data"]
    assert [t["refund_of"] for t in listed if t["kind"] == "refund"] == [paid["id"]]


async def test_a_transfer_id_of_the_wrong_shape_is_not_found(users: Any) -> None:
    _, headers = await a_user(users)
    for path in ("/v1/transfers/%23", "/v1/transfers/tr_X", "/v1/transfers/%23/stream"):
        assert_problem(await users.api.get(path, headers=headers), 404, "transfer_not_found")


async def test_an_escaped_wallet_id_is_not_found(users: Any) -> None:
    registered, headers = await a_user(users)
    wallet = registered["wallet"]["id"]
    for path in (
        f"/v1/wallets/{wallet}%23/entries",
        f"/v1/wallets/{wallet}%23",
        f"/v1/wallets/{wallet}%3F/entries",
    ):
        assert_problem(await users.api.get(path, headers=headers), 404, "wallet_not_found")
    for action in ("freeze", "unfreeze"):
        response = await users.api.post(f"/v1/wallets/{wallet}%23/{action}", headers=headers)
        assert_problem(response, 404, "wallet_not_found")
    assert (await users.api.get(f"/v1/wallets/{wallet}", headers=headers)).json()[
        "status"
    ] == "active"


async def test_ids_of_the_wrong_shape_never_reach_the_webhooks_service(users: Any) -> None:
    # This stack runs no webhooks service: any call through to it would be a 503.
    _, headers = await a_user(users)
    for path, code in (
        ("/v1/webhook-endpoints/we_1%23", "webhook_endpoint_not_found"),
        ("/v1/webhook-endpoints/we_%23/deliveries", "webhook_endpoint_not_found"),
        ("/v1/webhook-deliveries/del_1%3Fowner_id=usr_1", "delivery_not_found"),
        ("/v1/events/evt_%2E%2E", "event_not_found"),
    ):
        assert_problem(await users.api.get(path, headers=headers), 404, code)
    deleted = await users.api.delete("/v1/api-keys/key_%23", headers=headers)
    assert_problem(deleted, 404, "api_key_not_found")


async def test_a_malformed_wallet_id_in_a_body_is_an_unknown_wallet(users: Any) -> None:
    registered, headers = await a_user(users)
    response = await users.api.post(
        "/v1/transfers",
        json={
            "source_wallet_id": registered["wallet"]["id"],
            "destination_wallet_id": f"{registered['wallet']['id']}#x",
            "amount": 1,
            "currency": "USD",
        },
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert_problem(response, 404, "wallet_not_found")


# ---------------------------------------------------------------- metadata, cursors, filters


@pytest.mark.parametrize("key", ["$where", "a.b", "$", "."])
async def test_a_metadata_key_with_dollar_or_dot_is_refused_and_nothing_is_made(
    users: Any, key: str
) -> None:
    alice, alice_headers = await a_user(users)
    bob, _ = await a_user(users)
    response = await users.api.post(
        "/v1/transfers",
        json={
            "source_wallet_id": alice["wallet"]["id"],
            "destination_wallet_id": bob["wallet"]["id"],
            "amount": 1,
            "currency": "USD",
            "metadata": {"order": "1", key: "x"},
        },
        headers={**alice_headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    body = assert_problem(response, 422, "validation_error")
    assert [e["loc"] for e in body["errors"]] == ["body.metadata"]
    listed = await users.api.get("/v1/transfers", headers=alice_headers)
    assert listed.json()["data"] == []


def absurd_cursor() -> str:
    """A cursor of the right syntax whose position lies past the year 9999."""
    return base64.urlsafe_b64encode(b"999999999999999|tr_0").decode().rstrip("=")


async def test_an_absurd_cursor_is_a_bad_cursor_not_an_outage(users: Any) -> None:
    registered, headers = await a_user(users)
    wallet = registered["wallet"]["id"]
    await top_up(users.api, headers, wallet, 100)
    for path in ("/v1/transfers", "/v1/wallets", f"/v1/wallets/{wallet}/entries"):
        response = await users.api.get(path, params={"cursor": absurd_cursor()}, headers=headers)
        assert_problem(response, 400, "invalid_cursor")


async def test_a_date_filter_without_a_timezone_is_a_validation_error(users: Any) -> None:
    _, headers = await a_user(users)
    for name in ("created_gte", "created_lte"):
        response = await users.api.get(
            "/v1/transfers", params={name: "2026-01-01T00:00:00"}, headers=headers
        )
        body = assert_problem(response, 422, "validation_error")
        assert [e["loc"] for e in body["errors"]] == [f"query.{name}"]
        aware = await users.api.get(
            "/v1/transfers", params={name: "2026-01-01T00:00:00+00:00"}, headers=headers
        )
        assert aware.status_code == 200, aware.text
