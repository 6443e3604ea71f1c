"""Partial refunds end to end: every process running, HTTP only, real stores. A refund returns
part or all of what is left of a completed transfer; completed and in-flight refunds together
never exceed the original, even under concurrent requests."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from e2e_support import Customer, reconcile, wait_terminal
from standardwebhooks import Webhook

from payflow_testing.receiver import Receiver

pytestmark = pytest.mark.e2e


async def refund(
    customer: Customer, transfer_id: str, amount: int | None = None, *, key: str | None = None
) -> httpx.Response:
    return await customer.client.post(
        f"/v1/transfers/{transfer_id}/refund",
        json={"amount": amount} if amount is not None else None,
        headers={"Idempotency-Key": key or uuid.uuid4().hex, "Prefer": "wait=10"},
    )


async def a_payment(customers: Any, amount: int) -> tuple[Customer, Customer, dict[str, Any]]:
    alice, bob = await customers("alice"), await customers("bob")
    await alice.top_up(amount)
    paid = (await alice.transfer(bob.wallet_id, amount)).json()
    assert paid["status"] == "completed", paid
    return alice, bob, paid


async def test_partial_refunds_follow_each_other_until_the_amount_is_used_up(
    customers: Any, admin: httpx.AsyncClient
) -> None:
    alice, bob, paid = await a_payment(customers, 1_000)
    made = []
    for amount in (250, 400):
        answer = await refund(bob, paid["id"], amount)
        assert answer.status_code == 200, answer.text
        assert (answer.json()["status"], answer.json()["amount"]) == ("completed", amount)
        made.append(answer.json()["id"])
    original = (await alice.client.get(f"/v1/transfers/{paid['id']}")).json()
    assert (original["refunded_amount"], original["refunds"]) == (650, made)
    too_much = await refund(bob, paid["id"], 351)
    assert (too_much.status_code, too_much.json()["code"]) == (422, "refund_exceeds_remaining")
    rest = await refund(bob, paid["id"])  # no amount: all that is left
    assert (rest.json()["status"], rest.json()["amount"]) == ("completed", 350)
    assert (await alice.balance(), await bob.balance()) == (1_000, 0)
    nothing = await refund(bob, paid["id"], 1)
    assert (nothing.status_code, nothing.json()["code"]) == (422, "refund_exceeds_remaining")
    original = (await bob.client.get(f"/v1/transfers/{paid['id']}")).json()
    assert original["refunded_amount"] == 1_000 and len(original["refunds"]) == 3
    assert (await reconcile(admin))["ok"]


async def test_twenty_concurrent_partial_refunds_never_exceed_the_original(
    customers: Any, admin: httpx.AsyncClient
) -> None:
    alice, bob, paid = await a_payment(customers, 1_000)
    # Bob holds extra money, so the guard, not his balance, is what stops the seventh refund.
    await bob.top_up(5_000)
    answers = await asyncio.gather(*(refund(bob, paid["id"], 150) for _ in range(20)))
    accepted = [a.json() for a in answers if a.status_code in (200, 202)]
    refused = [a.json() for a in answers if a.status_code not in (200, 202)]
    assert len(accepted) == 6, [a.status_code for a in answers]  # 6 x 150 = 900 <= 1000
    assert {p["code"] for p in refused} == {"refund_exceeds_remaining"}
    finished = [await wait_terminal(bob, r["id"]) for r in accepted]
    assert {r["status"] for r in finished} == {"completed"}
    original = (await alice.client.get(f"/v1/transfers/{paid['id']}")).json()
    assert original["refunded_amount"] == 900
    assert sorted(original["refunds"]) == sorted(r["id"] for r in accepted)
    assert await alice.balance() == 900
    assert await bob.balance() == 5_000 + 100
    # What is left (100) can still go back, and not a minor unit more.
    assert (await refund(bob, paid["id"], 101)).json()["code"] == "refund_exceeds_remaining"
    assert (await refund(bob, paid["id"], 100)).json()["status"] == "completed"
    assert (await reconcile(admin))["ok"]


async def test_one_key_sent_twenty_times_at_once_makes_one_refund(customers: Any) -> None:
    alice, bob, paid = await a_payment(customers, 500)
    key = uuid.uuid4().hex
    answers = await asyncio.gather(*(refund(bob, paid["id"], 100, key=key) for _ in range(20)))
    assert {a.status_code for a in answers} <= {200, 202, 409}
    ids = {a.json()["id"] for a in answers if a.status_code in (200, 202)}
    assert len(ids) == 1
    await wait_terminal(bob, ids.pop())
    original = (await alice.client.get(f"/v1/transfers/{paid['id']}")).json()
    assert (original["refunded_amount"], len(original["refunds"])) == (100, 1)
    assert await alice.balance() == 100


@pytest.mark.parametrize("amount", [0, -1, 10.0, "10", True, 100_000_001])
async def test_a_bad_refund_amount_is_refused_and_changes_nothing(
    customers: Any, amount: Any
) -> None:
    _, bob, paid = await a_payment(customers, 300)
    answer = await bob.client.post(
        f"/v1/transfers/{paid['id']}/refund",
        json={"amount": amount},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "validation_error"
    original = (await bob.client.get(f"/v1/transfers/{paid['id']}")).json()
    assert (original["refunded_amount"], original["refunds"]) == (0, [])
    assert await bob.balance() == 300


async def test_a_completed_refund_is_announced_as_transfer_refunded(customers: Any) -> None:
    alice, bob, paid = await a_payment(customers, 800)
    receiver = Receiver()
    receiver.start()
    try:
        created = await alice.client.post(
            "/v1/webhook-endpoints",
            json={"url": receiver.url("/alice"), "event_types": ["transfer.refunded"]},
        )
        assert created.status_code == 201, created.text
        first = (await refund(bob, paid["id"], 300)).json()
        second = (await refund(bob, paid["id"], 200)).json()
        assert first["status"] == second["status"] == "completed"
        deadline = time.monotonic() + 30
        while len(receiver.received("/alice")) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        verifier = Webhook(created.json()["secret"])
        events = [verifier.verify(r.body, r.headers) for r in receiver.received("/alice")]
    finally:
        receiver.stop()
    assert [e["type"] for e in events] == ["transfer.refunded"] * 2
    assert {e["data"]["id"] for e in events} == {paid["id"]}
    assert sorted(e["data"]["refunded_amount"] for e in events) == [300, 500]
    assert len({e["id"] for e in events}) == 2  # one event per refund
    listed = (await alice.client.get("/v1/events", params={"type": "transfer.refunded"})).json()[
        "data"
    ]
    assert len(listed) == 2
    raw = json.dumps(events)
    assert first["id"] in raw and second["id"] in raw
