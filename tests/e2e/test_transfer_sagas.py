"""The transfer saga end to end: all processes running, HTTP only, real stores."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from e2e_support import reconcile, wait_terminal

pytestmark = pytest.mark.e2e


def states(transfer: dict[str, Any]) -> list[str]:
    return [entry["state"] for entry in transfer["history"]]


async def test_a_happy_transfer_completes_and_moves_the_money(customers: Any) -> None:
    alice, bob = await customers("alice"), await customers("bob")
    await alice.top_up(10_000)
    response = await alice.transfer(
        bob.wallet_id, 2_500, description="dinner", metadata={"order": "42"}
    )
    assert response.status_code == 200, response.text
    transfer = response.json()
    assert transfer["status"] == "completed"
    assert transfer["kind"] == "transfer"
    assert transfer["amount"] == 2_500 and transfer["currency"] == "USD"
    assert transfer["metadata"] == {"order": "42"}
    assert transfer["compensated"] is False and transfer["failure_code"] is None
    assert states(transfer) == [
        "debiting_source",
        "posting_transfer",
        "crediting_destination",
        "completed",
    ]
    assert len(transfer["trace_id"]) == 32
    assert response.headers["traceparent"].split("-")[1] == transfer["trace_id"]
    assert await alice.balance() == 7_500
    assert await bob.balance() == 2_500
    # Both parties see it; a stranger does not.
    assert (await bob.client.get(f"/v1/transfers/{transfer['id']}")).status_code == 200
    stranger = await customers("stranger")
    missing = await stranger.client.get(f"/v1/transfers/{transfer['id']}")
    assert missing.status_code == 404
    assert missing.json()["code"] == "transfer_not_found"


async def test_insufficient_funds_fails_and_moves_nothing(customers: Any) -> None:
    alice, bob = await customers("alice"), await customers("bob")
    await alice.top_up(1_000)
    transfer = (await alice.transfer(bob.wallet_id, 1_001)).json()
    assert transfer["status"] == "failed"
    assert transfer["failure_code"] == "insufficient_funds"
    assert transfer["compensated"] is False
    assert states(transfer) == ["debiting_source", "failed"]
    assert await alice.balance() == 1_000
    assert await bob.balance() == 0


async def test_a_ledger_rejection_refunds_the_sender(customers: Any) -> None:
    alice, bob = await customers("alice"), await customers("bob")
    await alice.top_up(5_000)
    fault = await alice.client.post(
        "/v1/sandbox/faults",
        json={"step": "ledger", "mode": "reject", "match_metadata": {"case": "ledger"}},
    )
    assert fault.status_code == 201, fault.text
    transfer = (await alice.transfer(bob.wallet_id, 1_200, metadata={"case": "ledger"})).json()
    assert transfer["status"] == "failed"
    assert transfer["failure_code"] == "ledger_rejected"
    assert transfer["compensated"] is True
    assert states(transfer) == [
        "debiting_source",
        "posting_transfer",
        "refunding_source",
        "compensated",
    ]
    assert await alice.balance() == 5_000
    assert await bob.balance() == 0
    # The rule only matched its metadata: an ordinary transfer still completes.
    ordinary = (await alice.transfer(bob.wallet_id, 100)).json()
    assert ordinary["status"] == "completed"


async def test_a_frozen_destination_reverses_the_posting_and_refunds_the_sender(
    customers: Any, admin: httpx.AsyncClient
) -> None:
    alice, bob = await customers("alice"), await customers("bob")
    await alice.top_up(3_000)
    frozen = await bob.client.post(f"/v1/wallets/{bob.wallet_id}/freeze")
    assert frozen.status_code == 200 and frozen.json()["status"] == "frozen"
    transfer = (await alice.transfer(bob.wallet_id, 700)).json()
    assert transfer["status"] == "failed"
    assert transfer["failure_code"] == "destination_unavailable"
    assert transfer["compensated"] is True
    assert states(transfer) == [
        "debiting_source",
        "posting_transfer",
        "crediting_destination",
        "reversing_posting",
        "refunding_source",
        "compensated",
    ]
    assert await alice.balance() == 3_000
    assert await bob.balance() == 0
    entries = (await alice.client.get(f"/v1/wallets/{alice.wallet_id}/entries")).json()["data"]
    mine = [e for e in entries if e["transfer_id"] == transfer["id"]]
    assert sorted(e["direction"] for e in mine) == ["credit", "debit"]
    assert (await reconcile(admin))["ok"]


async def test_a_debit_that_never_answers_is_abandoned_with_step_timeout_and_nothing_is_lost(
    customers: Any,
) -> None:
    alice, bob = await customers("alice"), await customers("bob")
    await alice.top_up(2_000)
    fault = await alice.client.post("/v1/sandbox/faults", json={"step": "debit", "mode": "timeout"})
    assert fault.status_code == 201
    response = await alice.transfer(bob.wallet_id, 500, wait=False)
    assert response.status_code == 202
    transfer = await wait_terminal(alice, response.json()["id"], timeout=60)
    assert transfer["status"] == "failed"
    assert transfer["failure_code"] == "step_timeout"
    assert transfer["compensated"] is False  # the debit never happened: refund cancelled it
    assert "refunding_source" in states(transfer)
    assert any("re-sent" in entry["reason"] for entry in transfer["history"])
    assert await alice.balance() == 2_000
    assert await bob.balance() == 0
    await alice.client.delete(f"/v1/sandbox/faults/{fault.json()['id']}")


async def test_a_get_with_prefer_wait_answers_once_the_transfer_is_terminal(
    customers: Any,
) -> None:
    alice, bob = await customers("alice"), await customers("bob")
    await alice.top_up(2_000)
    # The debit is never answered: the saga needs several step deadlines to give up.
    fault = await alice.client.post("/v1/sandbox/faults", json={"step": "debit", "mode": "timeout"})
    assert fault.status_code == 201
    started = await alice.transfer(bob.wallet_id, 500, wait=False)
    assert started.status_code == 202
    assert started.json()["status"] not in ("completed", "failed")
    final = None
    for _ in range(6):  # each call waits up to 10 s: one or two calls at most
        answer = await alice.client.get(
            f"/v1/transfers/{started.json()['id']}", headers={"Prefer": "wait=10"}
        )
        assert answer.status_code == 200, answer.text
        final = answer.json()
        if final["status"] in ("completed", "failed"):
            break
    assert final is not None and final["status"] == "failed", final
    assert final["failure_code"] == "step_timeout"
    await alice.client.delete(f"/v1/sandbox/faults/{fault.json()['id']}")


async def test_an_idempotent_replay_returns_the_first_answer(customers: Any) -> None:
    alice, bob = await customers("alice"), await customers("bob")
    await alice.top_up(1_000)
    key = uuid.uuid4().hex
    first = await alice.transfer(bob.wallet_id, 100, key=key, wait=False)
    again = await alice.transfer(bob.wallet_id, 100, key=key, wait=False)
    assert first.status_code == 202
    assert again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = await alice.transfer(bob.wallet_id, 101, key=key, wait=False)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    await wait_terminal(alice, first.json()["id"])
    assert await alice.balance() == 900


async def test_twenty_concurrent_requests_with_one_key_make_exactly_one_transfer(
    customers: Any,
) -> None:
    alice, bob = await customers("alice"), await customers("bob")
    await alice.top_up(1_000)
    key = uuid.uuid4().hex
    answers = await asyncio.gather(
        *(alice.transfer(bob.wallet_id, 10, key=key, wait=False) for _ in range(20))
    )
    assert {a.status_code for a in answers} <= {202, 409}
    ids = {a.json()["id"] for a in answers if a.status_code == 202}
    assert len(ids) == 1
    assert all(
        a.json()["code"] == "idempotency_key_in_use" for a in answers if a.status_code == 409
    )
    await wait_terminal(alice, ids.pop())
    listed = (await alice.client.get("/v1/transfers", params={"limit": 100})).json()["data"]
    assert len([t for t in listed if t["kind"] == "transfer"]) == 1
    assert await alice.balance() == 990


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        (100.0, "USD"),
        ("100", "USD"),
        (True, "USD"),
        (0, "USD"),
        (-5, "USD"),
        (100_000_001, "USD"),
        (100, "usd"),
        (100, "XXX"),
        (100, None),
    ],
)
async def test_bad_money_is_refused_with_validation_error_and_changes_nothing(
    customers: Any, amount: Any, currency: Any
) -> None:
    alice, bob = await customers("alice"), await customers("bob")
    body = {"source_wallet_id": alice.wallet_id, "destination_wallet_id": bob.wallet_id}
    body["amount"] = amount
    if currency is not None:
        body["currency"] = currency
    response = await alice.client.post(
        "/v1/transfers", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert problem["errors"], problem
    assert (await alice.client.get("/v1/transfers")).json()["data"] == []


async def test_pre_checks_answer_with_stable_codes(customers: Any) -> None:
    alice, bob = await customers("alice"), await customers("bob")
    body = {
        "source_wallet_id": alice.wallet_id,
        "destination_wallet_id": bob.wallet_id,
        "amount": 10,
        "currency": "USD",
    }
    missing = await alice.client.post("/v1/transfers", json=body)
    assert (missing.status_code, missing.json()["code"]) == (400, "idempotency_key_missing")
    invalid = await alice.client.post(
        "/v1/transfers", json=body, headers={"Idempotency-Key": "x" * 256}
    )
    assert (invalid.status_code, invalid.json()["code"]) == (400, "idempotency_key_invalid")

    async def post(**changes: Any) -> httpx.Response:
        return await alice.client.post(
            "/v1/transfers", json={**body, **changes}, headers={"Idempotency-Key": uuid.uuid4().hex}
        )

    same = await post(destination_wallet_id=alice.wallet_id)
    assert (same.status_code, same.json()["code"]) == (422, "same_wallet")
    theirs = await post(source_wallet_id=bob.wallet_id, destination_wallet_id=alice.wallet_id)
    assert (theirs.status_code, theirs.json()["code"]) == (404, "wallet_not_found")
    nowhere = await post(destination_wallet_id="wal_doesnotexist")
    assert (nowhere.status_code, nowhere.json()["code"]) == (404, "wallet_not_found")
    euro = await alice.client.post("/v1/wallets", json={"currency": "EUR"})
    assert euro.status_code == 201, euro.text
    mismatch = await post(destination_wallet_id=euro.json()["id"])
    assert (mismatch.status_code, mismatch.json()["code"]) == (422, "currency_mismatch")
    # A failed pre-check is not stored: the same key works once the request is fixed.
    key = uuid.uuid4().hex
    bad = await alice.client.post(
        "/v1/transfers",
        json={**body, "destination_wallet_id": "wal_nope"},
        headers={"Idempotency-Key": key},
    )
    assert bad.status_code == 404
    good = await alice.client.post("/v1/transfers", json=body, headers={"Idempotency-Key": key})
    assert good.status_code == 202
    assert (await alice.client.get("/v1/transfers")).json()["data"][0]["id"] == good.json()["id"]


async def test_the_stream_follows_a_transfer_until_it_is_terminal(customers: Any) -> None:
    alice, bob = await customers("alice"), await customers("bob")
    await alice.top_up(1_000)
    started = (await alice.transfer(bob.wallet_id, 300, wait=False)).json()
    seen: list[dict[str, Any]] = []
    async with alice.client.stream("GET", f"/v1/transfers/{started['id']}/stream") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        async for line in stream.aiter_lines():
            if line.startswith("data:"):
                seen.append(json.loads(line[5:]))
    assert seen[-1]["status"] == "completed"
    assert seen[-1]["id"] == started["id"]


async def test_transfers_are_listed_newest_first_with_filters_and_cursors(customers: Any) -> None:
    alice, bob = await customers("alice"), await customers("bob")
    await alice.top_up(1_000)
    made = [(await alice.transfer(bob.wallet_id, 10 + i)).json()["id"] for i in range(5)]
    await alice.transfer(bob.wallet_id, 5_000)  # fails: insufficient funds
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, "status": "completed", "wallet_id": bob.wallet_id}
        if cursor:
            params["cursor"] = cursor
        page = (await alice.client.get("/v1/transfers", params=params)).json()
        seen += [t["id"] for t in page["data"] if t["kind"] == "transfer"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(made))
    failed = (await alice.client.get("/v1/transfers", params={"status": "failed"})).json()["data"]
    assert [t["failure_code"] for t in failed] == ["insufficient_funds"]
    bad = await alice.client.get("/v1/transfers", params={"limit": 0})
    assert bad.status_code == 422


async def test_reconciliation_is_for_admins_only(customers: Any) -> None:
    alice = await customers("alice")
    response = await alice.client.get("/v1/admin/reconciliation")
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


async def test_a_credit_handler_that_keeps_failing_is_settled_by_cancelling_the_credit(
    customers: Any,
) -> None:
    """`error` faults make the wallet's credit handler raise on every delivery: the messages are
    retried and dead-lettered, the step times out, and the saga settles it: the credit is
    cancelled, the posting reversed, the sender refunded."""
    alice, bob = await customers("alice"), await customers("bob")
    await alice.top_up(900)
    fault = await alice.client.post(
        "/v1/sandbox/faults", json={"step": "credit", "mode": "error", "match_metadata": {"f": "e"}}
    )
    assert fault.status_code == 201
    started = await alice.transfer(bob.wallet_id, 400, wait=False, metadata={"f": "e"})
    transfer = await wait_terminal(alice, started.json()["id"], timeout=90)
    assert transfer["status"] == "failed"
    assert transfer["failure_code"] == "step_timeout"
    assert transfer["compensated"] is True
    assert states(transfer)[-4:] == [
        "cancelling_credit",
        "reversing_posting",
        "refunding_source",
        "compensated",
    ]
    assert await alice.balance() == 900
    assert await bob.balance() == 0


async def test_sandbox_fault_rules_are_listed_and_removed_per_user(customers: Any) -> None:
    alice, bob = await customers("alice"), await customers("bob")
    made = await alice.client.post(
        "/v1/sandbox/faults", json={"step": "debit", "mode": "reject", "rate": 0.5}
    )
    assert made.status_code == 201
    rule = made.json()
    assert rule["step"] == "debit"
    assert rule["mode"] == "reject"
    assert rule["rate"] == 0.5
    assert [r["id"] for r in (await alice.client.get("/v1/sandbox/faults")).json()["data"]] == [
        rule["id"]
    ]
    assert (await bob.client.get("/v1/sandbox/faults")).json()["data"] == []
    assert (await bob.client.delete(f"/v1/sandbox/faults/{rule['id']}")).status_code == 404
    assert (await alice.client.delete(f"/v1/sandbox/faults/{rule['id']}")).status_code == 204
    bad = await alice.client.post("/v1/sandbox/faults", json={"step": "debit", "mode": "explode"})
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_error")


async def test_the_recipient_refunds_a_completed_transfer_in_full_by_default(
    customers: Any,
) -> None:
    alice, bob = await customers("alice"), await customers("bob")
    await alice.top_up(1_000)
    paid = (await alice.transfer(bob.wallet_id, 300)).json()
    assert paid["status"] == "completed"
    assert (paid["refunded_amount"], paid["refunds"]) == (0, [])

    by_sender = await alice.client.post(
        f"/v1/transfers/{paid['id']}/refund", headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert (by_sender.status_code, by_sender.json()["code"]) == (422, "transfer_not_refundable")

    key = uuid.uuid4().hex
    refunded = await bob.client.post(
        f"/v1/transfers/{paid['id']}/refund",
        headers={"Idempotency-Key": key, "Prefer": "wait=10"},
    )
    assert refunded.status_code == 200, refunded.text
    refund = refunded.json()
    assert refund["kind"] == "refund"
    assert refund["status"] == "completed"
    assert refund["refund_of"] == paid["id"]
    assert refund["source_wallet_id"] == bob.wallet_id
    assert refund["destination_wallet_id"] == alice.wallet_id
    assert refund["amount"] == 300
    assert await alice.balance() == 1_000
    assert await bob.balance() == 0
    original = (await bob.client.get(f"/v1/transfers/{paid['id']}")).json()
    assert (original["refunded_amount"], original["refunds"]) == (300, [refund["id"]])

    # The same key answers the same refund; another key finds nothing left to refund.
    replayed = await bob.client.post(
        f"/v1/transfers/{paid['id']}/refund", headers={"Idempotency-Key": key}
    )
    assert replayed.json()["id"] == refund["id"]
    again = await bob.client.post(
        f"/v1/transfers/{paid['id']}/refund", headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert (again.status_code, again.json()["code"]) == (422, "refund_exceeds_remaining")
    assert await alice.balance() == 1_000

    failed = (await alice.transfer(bob.wallet_id, 5_000)).json()
    not_completed = await bob.client.post(
        f"/v1/transfers/{failed['id']}/refund", headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert (not_completed.status_code, not_completed.json()["code"]) == (
        422,
        "transfer_not_refundable",
    )


async def test_a_refund_the_recipient_cannot_fund_fails_moves_nothing_and_gives_its_share_back(
    customers: Any,
) -> None:
    alice, bob, carol = await customers("alice"), await customers("bob"), await customers("carol")
    await alice.top_up(500)
    paid = (await alice.transfer(bob.wallet_id, 500)).json()
    assert (await bob.transfer(carol.wallet_id, 400)).json()["status"] == "completed"
    refund = (
        await bob.client.post(
            f"/v1/transfers/{paid['id']}/refund",
            headers={"Idempotency-Key": uuid.uuid4().hex, "Prefer": "wait=10"},
        )
    ).json()
    assert refund["status"] == "failed"
    assert refund["failure_code"] == "insufficient_funds"
    assert (await alice.balance(), await bob.balance(), await carol.balance()) == (0, 100, 400)
    original = (await bob.client.get(f"/v1/transfers/{paid['id']}")).json()
    assert (original["refunded_amount"], original["refunds"]) == (0, [refund["id"]])
    # Its share is free again: the 100 Bob still holds can go back.
    partial = (
        await bob.client.post(
            f"/v1/transfers/{paid['id']}/refund",
            json={"amount": 100},
            headers={"Idempotency-Key": uuid.uuid4().hex, "Prefer": "wait=10"},
        )
    ).json()
    assert partial["status"] == "completed", partial
    assert (await alice.balance(), await bob.balance()) == (100, 0)
