"""CSV downloads end to end: a wallet's statement with its running balance, and the transfer
export with the list's filters, through the real gateway, ledger and orchestrator."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

pytestmark = pytest.mark.e2e


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


async def test_a_statement_lists_the_entries_with_their_running_balance(customers: Any) -> None:
    alice, bob = await customers("alice"), await customers("bob")
    await alice.top_up(1_000)
    paid = (await alice.transfer(bob.wallet_id, 250, description='lunch, "with" cake')).json()
    await alice.transfer(bob.wallet_id, 5_000)  # fails: no entry
    refund = await bob.client.post(
        f"/v1/transfers/{paid['id']}/refund",
        json={"amount": 50},
        headers={"Idempotency-Key": uuid.uuid4().hex, "Prefer": "wait=10"},
    )
    assert refund.json()["status"] == "completed"

    response = await alice.client.get(f"/v1/wallets/{alice.wallet_id}/statement.csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    assert response.text.startswith(
        "created_at,entry_id,transfer_id,kind,direction,amount,currency,balance\r\n"
    )
    rows = rows_of(response.text)
    assert [(r["kind"], r["direction"], r["amount"], r["balance"]) for r in rows] == [
        ("top_up", "credit", "1000", "1000"),
        ("transfer", "debit", "250", "750"),
        ("transfer", "credit", "50", "800"),
    ]
    assert rows[-1]["balance"] == str(await alice.balance())

    # A window [from, to) opens with the balance before it.
    second = datetime.fromisoformat(rows[1]["created_at"])
    window = await alice.client.get(
        f"/v1/wallets/{alice.wallet_id}/statement.csv",
        params={"from": second.isoformat(), "to": (second + timedelta(milliseconds=1)).isoformat()},
    )
    [only] = rows_of(window.text)
    assert (only["transfer_id"], only["balance"]) == (paid["id"], "750")


async def test_a_statement_of_someone_elses_wallet_or_a_bad_window_is_refused(
    customers: Any,
) -> None:
    alice, bob = await customers("alice"), await customers("bob")
    theirs = await alice.client.get(f"/v1/wallets/{bob.wallet_id}/statement.csv")
    assert (theirs.status_code, theirs.json()["code"]) == (404, "wallet_not_found")
    now = datetime.now(UTC)
    backwards = await alice.client.get(
        f"/v1/wallets/{alice.wallet_id}/statement.csv",
        params={"from": now.isoformat(), "to": (now - timedelta(days=1)).isoformat()},
    )
    assert (backwards.status_code, backwards.json()["code"]) == (422, "validation_error")
    naive = await alice.client.get(
        f"/v1/wallets/{alice.wallet_id}/statement.csv", params={"from": "2026-01-01T00:00:00"}
    )
    assert (naive.status_code, naive.json()["code"]) == (422, "validation_error")


async def test_the_transfer_export_follows_the_list_filters_across_pages(customers: Any) -> None:
    alice, bob = await customers("alice"), await customers("bob")
    await alice.top_up(10_000)
    made = [(await alice.transfer(bob.wallet_id, 10 + i)).json()["id"] for i in range(3)]
    await alice.transfer(bob.wallet_id, 50_000, description="=too much")  # fails
    everything = await alice.client.get("/v1/transfers/export.csv")
    assert everything.status_code == 200 and everything.headers["content-type"].startswith(
        "text/csv"
    )
    rows = rows_of(everything.text)
    assert {r["kind"] for r in rows} == {"top_up", "transfer"} and len(rows) == 5
    failed = [r for r in rows if r["status"] == "failed"]
    assert [(r["failure_code"], r["description"]) for r in failed] == [
        ("insufficient_funds", "'=too much")
    ]
    completed = rows_of(
        (
            await alice.client.get(
                "/v1/transfers/export.csv",
                params={"status": "completed", "wallet_id": bob.wallet_id},
            )
        ).text
    )
    assert [r["id"] for r in completed] == list(reversed(made))
    assert {(r["fee"], r["net_amount"] == r["amount"]) for r in completed} == {("0", True)}
    bad = await alice.client.get("/v1/transfers/export.csv", params={"status": "lost"})
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_error")
    # Bob sees what touched his wallet: the header, three payments and the failed attempt.
    assert (await bob.client.get("/v1/transfers/export.csv")).text.count("\r\n") == 5
