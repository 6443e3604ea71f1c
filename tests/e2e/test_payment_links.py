"""Payment links and platform fees end to end: every process running, HTTP only, real stores.

The default fee plan of the stack is USD 290 basis points + 30 minor units (docs/api.md)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from e2e_support import Customer, reconcile, wait_terminal
from standardwebhooks import Webhook

from payflow_testing.receiver import Receiver

pytestmark = pytest.mark.e2e


def usd_fee(amount: int) -> int:
    """The stack's default USD fee: 2.9 % rounded half up, plus 30."""
    return (amount * 290 * 2 + 10_000) // 20_000 + 30


async def create_link(merchant: Customer, **fields: Any) -> httpx.Response:
    body = {"wallet_id": merchant.wallet_id, "currency": "USD", **fields}
    return await merchant.client.post(
        "/v1/payment-links", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
    )


async def a_link(merchant: Customer, **fields: Any) -> dict[str, Any]:
    response = await create_link(merchant, **fields)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def pay(
    payer: Customer,
    link_id: str,
    amount: int | None = None,
    *,
    key: str | None = None,
    wait: bool = True,
    source: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"source_wallet_id": source or payer.wallet_id}
    if amount is not None:
        body["amount"] = amount
    headers = {"Idempotency-Key": key or uuid.uuid4().hex}
    if wait:
        headers["Prefer"] = "wait=10"
    return await payer.client.post(f"/v1/payment-links/{link_id}/pay", json=body, headers=headers)


async def test_a_merchant_creates_a_link_and_a_payer_pays_it_with_the_fee_taken(
    customers: Any, admin: httpx.AsyncClient, gateway_url: str
) -> None:
    merchant, payer = await customers("merchant"), await customers("payer")
    await payer.top_up(5_000)
    link = await a_link(merchant, amount=1_000, description="A blue mug", metadata={"sku": "m1"})
    assert link["id"].startswith("pl_")
    assert link["status"] == "active"
    assert (link["amount"], link["currency"], link["single_use"]) == (1_000, "USD", False)
    assert link["merchant_name"] == "merchant"
    assert link["url"] == f"{gateway_url}/pay/{link['id']}"
    assert link["qr"] == {
        "png_url": f"{link['url']}/qr.png",
        "svg_url": f"{link['url']}/qr.svg",
    }

    response = await pay(payer, link["id"])
    assert response.status_code == 200, response.text
    paid = response.json()
    assert paid["status"] == "completed"
    assert paid["payment_link_id"] == link["id"]
    fee = usd_fee(1_000)
    assert (paid["amount"], paid["fee"], paid["net_amount"]) == (1_000, fee, 1_000 - fee)
    assert (paid["description"], paid["metadata"]) == ("A blue mug", {"sku": "m1"})
    assert await payer.balance() == 4_000
    assert await merchant.balance() == 1_000 - fee

    # One journal transaction: the payer's debit and the merchant's net credit share it.
    payer_entries = (await payer.client.get(f"/v1/wallets/{payer.wallet_id}/entries")).json()
    merchant_entries = (
        await merchant.client.get(f"/v1/wallets/{merchant.wallet_id}/entries")
    ).json()
    [debit] = [e for e in payer_entries["data"] if e["transfer_id"] == paid["id"]]
    [credit] = [e for e in merchant_entries["data"] if e["transfer_id"] == paid["id"]]
    assert (debit["direction"], debit["amount"]) == ("debit", 1_000)
    assert (credit["direction"], credit["amount"]) == ("credit", 1_000 - fee)
    assert debit["id"].split(".")[0] == credit["id"].split(".")[0]

    seen = (await merchant.client.get(f"/v1/payment-links/{link['id']}")).json()
    assert (seen["paid_count"], seen["paid_amount"]) == (1, 1_000)
    payments = (await merchant.client.get(f"/v1/payment-links/{link['id']}/payments")).json()
    assert [p["id"] for p in payments["data"]] == [paid["id"]]
    listed = (await merchant.client.get("/v1/payment-links")).json()["data"]
    assert [item["id"] for item in listed] == [link["id"]]

    report = await reconcile(admin)
    assert report["ok"], report
    [usd] = [c for c in report["currencies"] if c["currency"] == "USD"]
    assert usd["conserved"] and usd["fees"] >= fee
    assert usd["wallets"] + usd["fees"] == usd["funded"]


async def test_an_open_amount_link_takes_what_the_payer_chooses_within_its_bounds(
    customers: Any,
) -> None:
    merchant, payer = await customers("merchant"), await customers("payer")
    await payer.top_up(10_000)
    link = await a_link(merchant, min_amount=500, max_amount=2_000)
    assert (link["amount"], link["min_amount"], link["max_amount"]) == (None, 500, 2_000)
    for outside in (None, 499, 2_001):
        refused = await pay(payer, link["id"], outside)
        assert (refused.status_code, refused.json()["code"]) == (
            422,
            "payment_link_amount_invalid",
        ), outside
    paid = (await pay(payer, link["id"], 1_234)).json()
    assert (paid["status"], paid["amount"], paid["fee"]) == ("completed", 1_234, usd_fee(1_234))
    assert await merchant.balance() == 1_234 - usd_fee(1_234)


async def test_concurrent_payers_of_a_single_use_link_make_exactly_one_payment(
    customers: Any, admin: httpx.AsyncClient
) -> None:
    merchant = await customers("merchant")
    payers = [await customers(f"payer{i}") for i in range(10)]
    await asyncio.gather(*(p.top_up(1_000) for p in payers))
    link = await a_link(merchant, amount=700, single_use=True)
    answers = await asyncio.gather(*(pay(p, link["id"], wait=False) for p in payers * 2))
    started = [a.json() for a in answers if a.status_code in (200, 202)]
    refused = [a.json()["code"] for a in answers if a.status_code not in (200, 202)]
    assert len({t["id"] for t in started}) == 1, [a.status_code for a in answers]
    assert set(refused) <= {"payment_link_busy", "payment_link_used", "idempotency_key_in_use"}
    done = await wait_terminal(merchant, started[0]["id"])
    assert done["status"] == "completed"
    balances = [await p.balance() for p in payers]
    assert sorted(balances) == [300] + [1_000] * 9
    assert await merchant.balance() == 700 - usd_fee(700)
    seen = (await merchant.client.get(f"/v1/payment-links/{link['id']}")).json()
    assert (seen["status"], seen["paid_count"]) == ("paid", 1)
    late = await pay(payers[0], link["id"])
    assert (late.status_code, late.json()["code"]) == (409, "payment_link_used")
    assert (await reconcile(admin))["ok"]


async def test_a_failed_payment_gives_a_single_use_link_back(customers: Any) -> None:
    merchant, poor, rich = (
        await customers("merchant"),
        await customers("poor"),
        await customers("rich"),
    )
    await poor.top_up(100)
    await rich.top_up(1_000)
    link = await a_link(merchant, amount=500, single_use=True)
    failed = (await pay(poor, link["id"])).json()
    assert (failed["status"], failed["failure_code"]) == ("failed", "insufficient_funds")
    paid = (await pay(rich, link["id"])).json()
    assert paid["status"] == "completed"
    payments = (await merchant.client.get(f"/v1/payment-links/{link['id']}/payments")).json()
    assert {p["id"] for p in payments["data"]} == {failed["id"], paid["id"]}


async def test_an_expired_or_deactivated_link_refuses_with_a_problem_and_moves_nothing(
    customers: Any,
) -> None:
    merchant, payer = await customers("merchant"), await customers("payer")
    await payer.top_up(2_000)
    # The real clock: the link expires a few seconds after it is made.
    expires_at = datetime.now(UTC) + timedelta(seconds=3)
    expiring = await a_link(merchant, amount=100, expires_at=expires_at.isoformat())
    await asyncio.sleep(max(0.0, (expires_at - datetime.now(UTC)).total_seconds()) + 0.2)
    expired = await pay(payer, expiring["id"])
    assert expired.status_code == 410, expired.text
    assert expired.headers["content-type"].startswith("application/problem+json")
    assert expired.json()["code"] == "payment_link_expired"
    assert (await merchant.client.get(f"/v1/payment-links/{expiring['id']}")).json()[
        "status"
    ] == "expired"

    link = await a_link(merchant, amount=100)
    stranger = await customers("stranger")
    not_theirs = await stranger.client.post(f"/v1/payment-links/{link['id']}/deactivate")
    assert (not_theirs.status_code, not_theirs.json()["code"]) == (404, "payment_link_not_found")
    deactivated = await merchant.client.post(f"/v1/payment-links/{link['id']}/deactivate")
    assert deactivated.status_code == 200 and deactivated.json()["status"] == "inactive"
    inactive = await pay(payer, link["id"])
    assert (inactive.status_code, inactive.json()["code"]) == (410, "payment_link_inactive")
    assert await payer.balance() == 2_000
    assert await merchant.balance() == 0


async def test_bad_links_and_payments_are_refused_with_stable_codes_and_change_nothing(
    customers: Any,
) -> None:
    merchant, payer = await customers("merchant"), await customers("payer")
    await payer.top_up(1_000)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    for fields, code in (
        ({"amount": 10.0}, "validation_error"),
        ({"amount": "10"}, "validation_error"),
        ({"amount": 0}, "validation_error"),
        ({"amount": 100, "min_amount": 5}, "validation_error"),
        ({"min_amount": 10, "max_amount": 5}, "validation_error"),
        ({"amount": 100, "expires_at": past}, "validation_error"),
        ({"amount": 100, "expires_at": "2030-01-01T00:00:00"}, "validation_error"),
        ({"amount": 30}, "amount_below_fee"),
        ({"amount": 100, "currency": "EUR"}, "currency_mismatch"),
        ({"amount": 100, "wallet_id": payer.wallet_id}, "wallet_not_found"),
        ({"amount": 100, "surprise": 1}, "validation_error"),
    ):
        refused = await create_link(merchant, **fields)
        assert refused.json()["code"] == code, (fields, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert (await merchant.client.get("/v1/payment-links")).json()["data"] == []

    link = await a_link(merchant, amount=100)
    missing = await pay(payer, "pl_0123456789abcdef")
    assert (missing.status_code, missing.json()["code"]) == (404, "payment_link_not_found")
    odd = await pay(payer, "pl_NOT-HEX")
    assert (odd.status_code, odd.json()["code"]) == (404, "payment_link_not_found")
    own = await pay(merchant, link["id"])
    assert (own.status_code, own.json()["code"]) == (422, "same_wallet")
    theirs = await pay(payer, link["id"], source=merchant.wallet_id)
    assert (theirs.status_code, theirs.json()["code"]) == (404, "wallet_not_found")
    euro = (await payer.client.post("/v1/wallets", json={"currency": "EUR"})).json()
    wrong = await pay(payer, link["id"], source=euro["id"])
    assert (wrong.status_code, wrong.json()["code"]) == (422, "currency_mismatch")
    fixed = await pay(payer, link["id"], 101)
    assert (fixed.status_code, fixed.json()["code"]) == (422, "payment_link_amount_invalid")
    no_key = await payer.client.post(
        f"/v1/payment-links/{link['id']}/pay", json={"source_wallet_id": payer.wallet_id}
    )
    assert (no_key.status_code, no_key.json()["code"]) == (400, "idempotency_key_missing")
    assert await payer.balance() == 1_000
    other = await customers("other")
    hidden = await other.client.get(f"/v1/payment-links/{link['id']}")
    assert (hidden.status_code, hidden.json()["code"]) == (404, "payment_link_not_found")
    hidden_payments = await other.client.get(f"/v1/payment-links/{link['id']}/payments")
    assert hidden_payments.status_code == 404


async def test_one_key_pays_once_however_often_the_payer_retries(customers: Any) -> None:
    merchant, payer = await customers("merchant"), await customers("payer")
    await payer.top_up(1_000)
    link = await a_link(merchant, amount=200)
    key = uuid.uuid4().hex
    answers = await asyncio.gather(
        *(pay(payer, link["id"], key=key, wait=False) for _ in range(10))
    )
    ids = {a.json()["id"] for a in answers if a.status_code in (200, 202)}
    assert len(ids) == 1
    await wait_terminal(payer, ids.pop())
    assert await payer.balance() == 800
    mine = (await payer.client.get("/v1/transfers", params={"payment_link_id": link["id"]})).json()[
        "data"
    ]
    assert len(mine) == 1


async def test_a_refund_of_a_payment_keeps_the_fee_and_the_merchant_funds_the_gross_amount(
    customers: Any, admin: httpx.AsyncClient
) -> None:
    """The documented decision: the platform keeps its fee; the merchant refunds up to the gross
    amount out of its wallet."""
    merchant, payer = await customers("merchant"), await customers("payer")
    await payer.top_up(1_000)
    link = await a_link(merchant, amount=1_000)
    paid = (await pay(payer, link["id"])).json()
    fee = usd_fee(1_000)
    assert await merchant.balance() == 1_000 - fee

    refund_all = await merchant.client.post(
        f"/v1/transfers/{paid['id']}/refund",
        headers={"Idempotency-Key": uuid.uuid4().hex, "Prefer": "wait=10"},
    )
    failed = refund_all.json()
    assert (failed["status"], failed["failure_code"]) == ("failed", "insufficient_funds")

    part = await merchant.client.post(
        f"/v1/transfers/{paid['id']}/refund",
        json={"amount": 1_000 - fee},
        headers={"Idempotency-Key": uuid.uuid4().hex, "Prefer": "wait=10"},
    )
    assert part.json()["status"] == "completed", part.text
    assert (await payer.balance(), await merchant.balance()) == (1_000 - fee, 0)
    await merchant.top_up(fee)  # the merchant pays the fee out of its own money
    rest = await merchant.client.post(
        f"/v1/transfers/{paid['id']}/refund",
        headers={"Idempotency-Key": uuid.uuid4().hex, "Prefer": "wait=10"},
    )
    assert (rest.json()["status"], rest.json()["amount"]) == ("completed", fee)
    assert (await payer.balance(), await merchant.balance()) == (1_000, 0)
    original = (await payer.client.get(f"/v1/transfers/{paid['id']}")).json()
    assert (original["refunded_amount"], original["fee"]) == (1_000, fee)
    report = await reconcile(admin)
    assert report["ok"] and report["money_conserved"], report


async def test_a_completed_payment_is_announced_as_payment_link_paid(customers: Any) -> None:
    merchant, payer = await customers("merchant"), await customers("payer")
    await payer.top_up(1_000)
    link = await a_link(merchant, amount=400)
    receiver = Receiver()
    receiver.start()
    try:
        endpoint = await merchant.client.post(
            "/v1/webhook-endpoints",
            json={"url": receiver.url("/shop"), "event_types": ["payment_link.paid"]},
        )
        assert endpoint.status_code == 201, endpoint.text
        paid = (await pay(payer, link["id"])).json()
        deadline = time.monotonic() + 30
        while not receiver.received("/shop") and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        [request] = receiver.received("/shop")
        event = Webhook(endpoint.json()["secret"]).verify(request.body, request.headers)
    finally:
        receiver.stop()
    assert event["type"] == "payment_link.paid"
    assert event["data"]["id"] == paid["id"]
    assert event["data"]["payment_link_id"] == link["id"]
    assert event["data"]["net_amount"] == 400 - usd_fee(400)
    assert json.loads(request.body)["id"] == event["id"]


async def test_the_links_qr_codes_are_served_and_the_png_decodes_to_its_url(
    customers: Any, gateway_url: str
) -> None:
    import io

    import zxingcpp
    from PIL import Image

    merchant = await customers("merchant")
    link = await a_link(merchant, amount=250)
    async with httpx.AsyncClient(timeout=30) as anonymous:  # no sign-in: the URL is enough
        png = await anonymous.get(link["qr"]["png_url"])
        svg = await anonymous.get(link["qr"]["svg_url"])
        missing = await anonymous.get(f"{gateway_url}/pay/pl_0123456789abcdef/qr.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    decoded = [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))]
    assert decoded == [link["url"]]
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.startswith("<svg") and "Pay merchant" in svg.text
    assert (missing.status_code, missing.json()["code"]) == (404, "payment_link_not_found")
