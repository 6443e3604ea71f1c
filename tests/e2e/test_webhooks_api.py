"""The public webhook API over the gateway, with the whole system running: a real transfer's
events reach a real receiver, signed, and the delivery log and event list show them."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from standardwebhooks import Webhook

from payflow_testing.receiver import Receiver

pytestmark = pytest.mark.e2e


async def test_a_transfer_is_delivered_signed_and_logged_to_its_subscribers_only(
    customers: Any,
) -> None:
    alice, bob, eve = await customers("alice"), await customers("bob"), await customers("eve")
    receiver = Receiver()
    receiver.start()
    try:
        created = await alice.client.post(
            "/v1/webhook-endpoints",
            json={"url": receiver.url("/alice"), "event_types": ["*"], "description": "books"},
        )
        assert created.status_code == 201, created.text
        endpoint = created.json()
        assert endpoint["secret"].startswith("whsec_")
        failed_only = await bob.client.post(
            "/v1/webhook-endpoints",
            json={"url": receiver.url("/bob-failed"), "event_types": ["transfer.failed"]},
        )
        assert failed_only.status_code == 201
        eves = await eve.client.post(
            "/v1/webhook-endpoints", json={"url": receiver.url("/eve"), "event_types": ["*"]}
        )
        assert eves.status_code == 201

        await alice.top_up(1_000)
        transfer = (await alice.transfer(bob.wallet_id, 300)).json()
        assert transfer["status"] == "completed"

        deadline = time.monotonic() + 30
        mine: list[Any] = []
        while time.monotonic() < deadline:
            mine = [
                r
                for r in receiver.received("/alice")
                if json.loads(r.body)["data"]["id"] == transfer["id"]
            ]
            if {json.loads(r.body)["type"] for r in mine} >= {
                "transfer.created",
                "transfer.completed",
            }:
                break
            await asyncio.sleep(0.1)
        types = {json.loads(r.body)["type"] for r in mine}
        assert types >= {"transfer.created", "transfer.completed"}
        verifier = Webhook(endpoint["secret"])
        for request in mine:
            payload = verifier.verify(request.body, request.headers)
            assert payload["data"]["id"] == transfer["id"]
        await asyncio.sleep(1.0)
        assert receiver.received("/eve") == []
        assert receiver.received("/bob-failed") == []
    finally:
        receiver.stop()

    listed = (await alice.client.get("/v1/webhook-endpoints")).json()["data"]
    assert [e["id"] for e in listed] == [endpoint["id"]]
    assert "secret" not in listed[0]
    deliveries = (
        await alice.client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries")
    ).json()["data"]
    assert {d["status"] for d in deliveries} == {"succeeded"}
    assert all(d["attempts"][0]["status_code"] == 200 for d in deliveries)
    events = (await alice.client.get("/v1/events", params={"type": "transfer.completed"})).json()
    ids = [e["id"] for e in events["data"]]
    mine_completed = [e for e in events["data"] if e["data"]["id"] == transfer["id"]]
    assert len(mine_completed) == 1
    one = await alice.client.get(f"/v1/events/{mine_completed[0]['id']}")
    assert one.status_code == 200
    assert ids
    # Someone else's endpoint and events are 404, as if they did not exist.
    assert (await eve.client.get(f"/v1/webhook-endpoints/{endpoint['id']}")).status_code == 404
    hidden = await eve.client.get(f"/v1/events/{mine_completed[0]['id']}")
    assert (hidden.status_code, hidden.json()["code"]) == (404, "event_not_found")


async def test_endpoints_are_updated_rotated_and_deleted(customers: Any) -> None:
    alice = await customers("alice")
    created = (
        await alice.client.post(
            "/v1/webhook-endpoints",
            json={"url": "http://127.0.0.1:9/hook", "event_types": ["transfer.completed"]},
        )
    ).json()
    patched = await alice.client.patch(
        f"/v1/webhook-endpoints/{created['id']}",
        json={"status": "disabled", "event_types": ["transfer.failed"]},
    )
    assert patched.status_code == 200
    assert patched.json()["status"] == "disabled"
    assert patched.json()["event_types"] == ["transfer.failed"]
    rotated = await alice.client.post(f"/v1/webhook-endpoints/{created['id']}/rotate-secret")
    assert rotated.status_code == 200
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != created["secret"]
    bad = await alice.client.post(
        "/v1/webhook-endpoints", json={"url": "ftp://example.com/x", "event_types": ["*"]}
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_error")
    unknown = await alice.client.post(
        "/v1/webhook-endpoints", json={"url": "https://example.com/x", "event_types": ["nope"]}
    )
    assert unknown.status_code == 422
    assert (await alice.client.delete(f"/v1/webhook-endpoints/{created['id']}")).status_code == 204
    gone = await alice.client.get(f"/v1/webhook-endpoints/{created['id']}")
    assert (gone.status_code, gone.json()["code"]) == (404, "webhook_endpoint_not_found")
