"""Ledger commands through the real stream, consumer and stores: one journal transaction per
step however often it is delivered, reversals linked, late postings refused."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from payflow_contracts import Envelope
from payflow_contracts.saga import (
    PostTopUp,
    PostTransfer,
    ReversePosting,
    SagaStep,
    StepOutcome,
)

pytestmark = pytest.mark.integration


def post_transfer(saga: str, source: str, destination: str, amount: int, **kw: Any) -> PostTransfer:
    return PostTransfer(
        saga_id=saga,
        step=SagaStep.POST_TRANSFER,
        amount=amount,
        currency=kw.pop("currency", "USD"),
        source_wallet_id=source,
        destination_wallet_id=destination,
        **kw,
    )


def post_top_up(saga: str, wallet: str, amount: int, **kw: Any) -> PostTopUp:
    return PostTopUp(
        saga_id=saga,
        step=SagaStep.POST_TOP_UP,
        amount=amount,
        currency="USD",
        wallet_id=wallet,
        **kw,
    )


def reverse(saga: str, amount: int, posting: SagaStep = SagaStep.POST_TRANSFER) -> ReversePosting:
    return ReversePosting(
        saga_id=saga,
        step=SagaStep.REVERSE_POSTING,
        amount=amount,
        currency="USD",
        reverses_step=posting,
    )


async def balance(ledger: Any, account: str) -> int:
    return int((await ledger.get_json(f"/internal/accounts/{account}"))["balance"])


async def journal_is_balanced(ledger: Any) -> dict[str, Any]:
    check: dict[str, Any] = await ledger.get_json("/internal/journal/check")
    assert check["balanced"] is True and check["unbalanced"] == []
    return check


async def test_a_transfer_posting_writes_one_balanced_transaction_between_the_two_accounts(
    ledger: Any,
) -> None:
    reply = await ledger.ask(post_transfer("tr_1", "wal_a", "wal_b", 250))
    assert (reply.saga_id, reply.step, reply.outcome) == (
        "tr_1",
        SagaStep.POST_TRANSFER,
        StepOutcome.POSTED,
    )
    assert await balance(ledger, "wal_a") == -250
    assert await balance(ledger, "wal_b") == 250
    account = await ledger.get_json("/internal/accounts/wal_b")
    assert account == {"wallet_id": "wal_b", "currency": "USD", "balance": 250}
    check = await journal_is_balanced(ledger)
    assert check["transactions_checked"] == 1


async def test_a_top_up_is_funded_by_the_currency_funding_account(ledger: Any) -> None:
    assert (await ledger.ask(post_top_up("tr_t", "wal_a", 1_000))).outcome is StepOutcome.POSTED
    assert await balance(ledger, "wal_a") == 1_000
    assert await balance(ledger, "funding:USD") == -1_000
    balances = await ledger.get_json("/internal/balances")
    # Wallet accounts apart from the system's (the funding and fee accounts).
    assert balances == {"balances": {"wal_a": 1_000}, "system": {"funding:USD": -1_000}}
    await journal_is_balanced(ledger)


async def test_the_same_posting_delivered_twenty_times_at_once_writes_one_transaction(
    ledger: Any,
) -> None:
    command = post_transfer("tr_dup", "wal_a", "wal_b", 40)
    sent = await asyncio.gather(*(ledger.send(command) for _ in range(20)))
    replies = await ledger.replies_to(list(sent))
    assert len({r.model_dump_json() for r in replies}) == 1
    assert replies[0].outcome is StepOutcome.POSTED
    assert await balance(ledger, "wal_b") == 40
    assert (await journal_is_balanced(ledger))["transactions_checked"] == 1


async def test_a_reversal_writes_the_opposite_transaction_once_and_restores_both_accounts(
    ledger: Any,
) -> None:
    await ledger.ask(post_transfer("tr_r", "wal_a", "wal_b", 300))
    sent = await asyncio.gather(*(ledger.send(reverse("tr_r", 300)) for _ in range(5)))
    replies = await ledger.replies_to(list(sent))
    assert {r.outcome for r in replies} == {StepOutcome.REVERSED}
    assert await balance(ledger, "wal_a") == 0 and await balance(ledger, "wal_b") == 0
    journal = ledger.components.journal
    posting = await journal.get("tr_r:post_transfer")
    reversal = await journal.get("tr_r:reverse_posting")
    assert reversal.transaction.reverses == posting.transaction.id
    assert (await journal_is_balanced(ledger))["transactions_checked"] == 2


async def test_a_reversal_before_its_posting_cancels_it_and_the_late_posting_writes_nothing(
    ledger: Any,
) -> None:
    cancelled = await ledger.ask(reverse("tr_late", 500))
    assert cancelled.outcome is StepOutcome.POSTING_CANCELLED
    late = await ledger.ask(post_transfer("tr_late", "wal_a", "wal_b", 500))
    assert late.outcome is StepOutcome.LEDGER_REJECTED
    assert late.reason is not None and "cancelled" in late.reason
    assert await balance(ledger, "wal_a") == 0 and await balance(ledger, "wal_b") == 0
    assert (await journal_is_balanced(ledger))["transactions_checked"] == 0
    # The top-up flavour of the same story.
    assert (await ledger.ask(reverse("tr_late2", 5, SagaStep.POST_TOP_UP))).outcome is (
        StepOutcome.POSTING_CANCELLED
    )
    assert (
        await ledger.ask(post_top_up("tr_late2", "wal_a", 5))
    ).outcome is StepOutcome.LEDGER_REJECTED
    assert await balance(ledger, "wal_a") == 0


async def test_postings_racing_their_reversals_always_net_to_nothing(ledger: Any) -> None:
    sagas = [f"tr_race{i}" for i in range(15)]
    sent = await asyncio.gather(
        *(
            ledger.send(c)
            for s in sagas
            for c in (post_transfer(s, "wal_a", "wal_b", 10), reverse(s, 10))
        )
    )
    replies = await ledger.replies_to(list(sent))
    for i in range(0, len(replies), 2):
        assert (replies[i].outcome, replies[i + 1].outcome) in {
            (StepOutcome.POSTED, StepOutcome.REVERSED),
            (StepOutcome.LEDGER_REJECTED, StepOutcome.POSTING_CANCELLED),
        }
    assert await balance(ledger, "wal_a") == 0 and await balance(ledger, "wal_b") == 0
    await journal_is_balanced(ledger)


async def test_a_posting_in_another_currency_than_an_open_account_is_rejected(ledger: Any) -> None:
    await ledger.ask(post_top_up("tr_usd", "wal_a", 100))
    refused = await ledger.ask(post_transfer("tr_eur", "wal_a", "wal_new", 10, currency="EUR"))
    assert refused.outcome is StepOutcome.LEDGER_REJECTED
    assert refused.reason == "an account holds another currency"
    same = await ledger.ask(post_transfer("tr_self", "wal_a", "wal_a", 10))
    assert same.outcome is StepOutcome.LEDGER_REJECTED
    assert await balance(ledger, "wal_a") == 100
    await journal_is_balanced(ledger)


async def test_a_statement_lists_a_wallets_entries_newest_first_from_its_point_of_view(
    ledger: Any,
) -> None:
    await ledger.ask(post_top_up("tr_1", "wal_a", 1_000))
    await ledger.ask(post_transfer("tr_2", "wal_a", "wal_b", 300))
    await ledger.ask(post_transfer("tr_3", "wal_b", "wal_a", 50))
    await ledger.ask(reverse("tr_2", 300))
    entries: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await ledger.get_json(
            "/internal/accounts/wal_a/entries", limit=3, **({"cursor": cursor} if cursor else {})
        )
        entries += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [(e["transfer_id"], e["kind"], e["direction"], e["amount"]) for e in entries] == [
        ("tr_2", "reversal", "credit", 300),
        ("tr_3", "transfer", "credit", 50),
        ("tr_2", "transfer", "debit", 300),
        ("tr_1", "top_up", "credit", 1_000),
    ]
    assert set(entries[0]) == {
        "id",
        "transfer_id",
        "direction",
        "amount",
        "currency",
        "kind",
        "created_at",
    }
    assert len({e["id"] for e in entries}) == 4
    assert [e["created_at"] for e in entries] == sorted(
        (e["created_at"] for e in entries), reverse=True
    )
    assert await balance(ledger, "wal_a") == 1_050
    empty = await ledger.get_json("/internal/accounts/wal_nobody/entries")
    assert empty == {"data": [], "next_cursor": None}


async def test_an_account_without_postings_has_no_currency_and_a_zero_balance(ledger: Any) -> None:
    assert await ledger.get_json("/internal/accounts/wal_nobody") == {
        "wallet_id": "wal_nobody",
        "currency": None,
        "balance": 0,
    }


async def test_the_api_refuses_a_bad_cursor_and_a_caller_without_the_token(ledger: Any) -> None:
    response = await ledger.client.get("/internal/accounts/wal_a/entries", params={"cursor": "zz"})
    assert response.status_code == 400 and response.json()["code"] == "invalid_cursor"
    for path in ["/internal/balances", "/internal/journal/check", "/internal/accounts/wal_a"]:
        response = await ledger.client.get(path, headers={"X-Internal-Token": "nope"})
        assert response.status_code == 401


async def test_the_service_is_ready_when_its_stores_answer(ledger: Any) -> None:
    response = await ledger.client.get("/readyz")
    assert response.status_code == 200 and response.json()["status"] == "ready"


# ---------------------------------------------------------------- sandbox faults


async def test_a_reject_fault_is_recorded_as_ledger_rejected_and_replayed(ledger: Any) -> None:
    fault = {"rule_id": "flt_1", "mode": "reject"}
    refused = await ledger.ask(post_transfer("tr_f", "wal_a", "wal_b", 10, fault=fault))
    assert refused.outcome is StepOutcome.LEDGER_REJECTED
    assert refused.reason == "rejected by a sandbox fault rule"
    assert await ledger.ask(post_transfer("tr_f", "wal_a", "wal_b", 10)) == refused
    top_up_refused = await ledger.ask(post_top_up("tr_g", "wal_a", 10, fault=fault))
    assert top_up_refused.outcome is StepOutcome.LEDGER_REJECTED
    assert (await journal_is_balanced(ledger))["transactions_checked"] == 0


async def test_a_timeout_fault_is_acknowledged_and_does_nothing(ledger: Any) -> None:
    await ledger.send(
        post_transfer("tr_to", "wal_a", "wal_b", 10, fault={"rule_id": "f", "mode": "timeout"})
    )
    await ledger.ask(post_top_up("tr_after", "wal_c", 1))  # the consumer got past it
    await asyncio.sleep(0.2)
    assert [r for r in await ledger.all_replies() if r.saga_id == "tr_to"] == []
    assert await ledger.components.journal.get("tr_to:post_transfer") is None
    pending = await ledger.redis.xpending(ledger.settings.streams.ledger_commands, "ledger")
    assert pending["pending"] == 0
    assert (await ledger.ask(reverse("tr_to", 10))).outcome is StepOutcome.POSTING_CANCELLED


async def test_an_error_fault_is_retried_then_dead_lettered_without_effect(
    start_service: Any,
) -> None:
    async with start_service("ledger", stream_claim_idle_ms=100, stream_max_deliveries=2) as ledger:
        await ledger.send(
            post_transfer("tr_err", "wal_a", "wal_b", 10, fault={"rule_id": "f", "mode": "error"})
        )
        dead_stream = ledger.settings.streams.ledger_commands + ":dead"
        for _ in range(200):
            if await ledger.redis.xlen(dead_stream):
                break
            await asyncio.sleep(0.05)
        dead = await ledger.redis.xrange(dead_stream)
        assert [Envelope.from_wire(f[b"envelope"]).saga_id for _, f in dead] == ["tr_err"]
        assert await ledger.components.journal.get("tr_err:post_transfer") is None
        assert await ledger.all_replies() == []


async def test_production_ignores_sandbox_faults(start_service: Any) -> None:
    async with start_service(
        "ledger",
        env="production",
        internal_token="a-real-secret-token-0123456789",
        bus_signing_keys="a-real-bus-signing-key-0123456789abcdef",
    ) as ledger:
        for mode in ("reject", "timeout", "error"):
            reply = await ledger.ask(
                post_top_up(f"tr_{mode}", "wal_a", 10, fault={"rule_id": "f", "mode": mode})
            )
            assert reply.outcome is StepOutcome.POSTED
        assert await balance(ledger, "wal_a") == 30
