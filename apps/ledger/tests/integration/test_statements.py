"""A wallet account's statement through the ledger's internal API: entries in [from, to),
oldest first, paged, the first page carrying the opening balance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from payflow_contracts.saga import PostTopUp, PostTransfer, SagaStep, StepOutcome

pytestmark = pytest.mark.integration


async def post(ledger: Any, saga: str, source: str, destination: str, amount: int) -> None:
    command = PostTransfer(
        saga_id=saga,
        step=SagaStep.POST_TRANSFER,
        amount=amount,
        currency="USD",
        source_wallet_id=source,
        destination_wallet_id=destination,
    )
    assert (await ledger.ask(command)).outcome is StepOutcome.POSTED


async def test_a_statement_pages_oldest_first_and_opens_with_the_balance_before_it(
    ledger: Any,
) -> None:
    top_up = PostTopUp(
        saga_id="tr_fund",
        step=SagaStep.POST_TOP_UP,
        amount=1_000,
        currency="USD",
        wallet_id="wal_s",
    )
    assert (await ledger.ask(top_up)).outcome is StepOutcome.POSTED
    before = await ledger.get_json("/internal/accounts/wal_s/entries")
    funded_at = datetime.fromisoformat(before["data"][0]["created_at"])
    start = funded_at + timedelta(milliseconds=1)
    for i in range(5):
        await post(ledger, f"tr_{i}", "wal_s", "wal_o", 10 + i)

    first = await ledger.get_json(
        "/internal/accounts/wal_s/statement", **{"from": start.isoformat(), "limit": 2}
    )
    assert first["opening_balance"] == 1_000
    pages, cursor = [first], first["next_cursor"]
    while cursor:
        page = await ledger.get_json(
            "/internal/accounts/wal_s/statement",
            **{"from": start.isoformat(), "limit": 2, "cursor": cursor},
        )
        assert page["opening_balance"] is None
        pages.append(page)
        cursor = page["next_cursor"]
    entries = [e for p in pages for e in p["data"]]
    assert [(e["transfer_id"], e["direction"], e["amount"]) for e in entries] == [
        (f"tr_{i}", "debit", 10 + i) for i in range(5)
    ]
    whole = await ledger.get_json("/internal/accounts/wal_s/statement")
    assert whole["opening_balance"] == 0 and len(whole["data"]) == 6

    nothing_yet = await ledger.get_json(
        "/internal/accounts/wal_s/statement", to=funded_at.isoformat()
    )
    assert (nothing_yet["opening_balance"], nothing_yet["data"]) == (0, [])
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    later = await ledger.get_json("/internal/accounts/wal_s/statement", **{"from": future})
    assert (later["opening_balance"], later["data"]) == (1_000 - 60, [])


async def test_a_bad_cursor_or_a_naive_date_is_refused(ledger: Any) -> None:
    bad = await ledger.client.get("/internal/accounts/wal_s/statement", params={"cursor": "x"})
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_cursor")
    naive = await ledger.client.get(
        "/internal/accounts/wal_s/statement", params={"from": "2026-01-01T00:00:00"}
    )
    assert (naive.status_code, naive.json()["code"]) == (422, "validation_error")
