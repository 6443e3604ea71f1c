"""The windows the performance work widened, each crossed by a real crash (SIGKILL).

Event-published flags are now written in a batch per sweeper tick instead of one write per
event, so an orchestrator killed after publishing `transfer.completed` and before the batch
leaves the flag pending. Its successor must publish the event again, under the same event id,
and the webhooks service must take it as the repeat it is: one stored event, one delivery per
endpoint, every delivery carrying the same `webhook-id`. The orchestrator here sweeps (and so
writes its batched flags) only at start and then once an hour, so the crash lands inside the
window by construction, not by timing luck; its successor sweeps every 0.3 s.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_support import E2E_ENV, deliveries_of, first_deliveries, register, wait_terminal
from pymongo import AsyncMongoClient

from payflow_testing import ServiceStack
from payflow_testing.receiver import Receiver
from payflow_testing.stores import StoreEndpoints

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def slow_sweeper_stack(
    stores: StoreEndpoints, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceStack]:
    env = {
        **E2E_ENV,
        "PAYFLOW_SWEEPER_INTERVAL_S": "3600",
        "PAYFLOW_WEBHOOK_ALLOW_PRIVATE_URLS": "true",
    }
    with ServiceStack(
        mongo_url=stores.mongo_url,
        redis_url=stores.redis_url,
        work_dir=tmp_path_factory.mktemp("crash-windows"),
        extra_env=env,
    ) as running:
        yield running


async def stored_transfer(stack: ServiceStack, transfer_id: str) -> dict[str, Any]:
    client: Any = AsyncMongoClient(stack.mongo_url, tz_aware=True)
    try:
        found: dict[str, Any] = await client[f"{stack.database_prefix}_orchestrator"][
            "transfers"
        ].find_one({"_id": transfer_id})
        return found
    finally:
        await client.close()


async def test_an_orchestrator_killed_before_its_event_flags_are_written_publishes_again_as_a_repeat(
    slow_sweeper_stack: ServiceStack,
) -> None:
    stack = slow_sweeper_stack
    gateway = stack.url("gateway")
    alice, bob = await register(gateway, "alice"), await register(gateway, "bob")
    receiver = Receiver()
    receiver.start()
    try:
        endpoint = await alice.client.post(
            "/v1/webhook-endpoints",
            json={"url": receiver.url("/hooks"), "event_types": ["transfer.completed"]},
        )
        assert endpoint.status_code == 201, endpoint.text
        await alice.top_up(1_000)
        answer = await alice.transfer(bob.wallet_id, 250)
        transfer = answer.json()
        assert transfer["status"] == "completed", transfer

        # The completed event is out; its flag waits for the next sweeper tick, an hour away.
        before = await stored_transfer(stack, transfer["id"])
        assert before["events"]["completed"] == "pending"
        stack.kill("orchestrator")
        stack.extra_env["PAYFLOW_SWEEPER_INTERVAL_S"] = "0.3"
        await asyncio.to_thread(stack.restart, "orchestrator")

        # The new process's sweeps (for sagas idle over 2 s) find the event owed.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            after = await stored_transfer(stack, transfer["id"])
            if after["events"]["completed"] == "published":
                break
            await asyncio.sleep(0.2)
        assert after["events"]["completed"] == "published", after["events"]

        await first_deliveries(receiver, "/hooks", transfer["id"], timeout=20)
        await asyncio.sleep(2)  # room for a second delivery, if the repeat were not one
        deliveries = deliveries_of(receiver, "/hooks", transfer["id"])
        assert len({r.headers["webhook-id"] for r in deliveries}) == 1
        events = await alice.client.get("/v1/events", params={"limit": 100})
        assert events.status_code == 200, events.text
        completed = [
            e
            for e in events.json()["data"]
            if e["type"] == "transfer.completed" and e["data"]["id"] == transfer["id"]
        ]
        assert len(completed) == 1
        assert (await wait_terminal(alice, transfer["id"]))["status"] == "completed"
        assert await alice.balance() + await bob.balance() == 1_000
    finally:
        receiver.stop()
        await alice.client.aclose()
        await bob.client.aclose()


# ------------------------------------------------ the wallet: decided, not yet recorded


@pytest.fixture(scope="module")
def slow_pruner_stack(
    stores: StoreEndpoints, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceStack]:
    # The wallet's pruner runs at start, then once an hour: a decision made after the start
    # stays a mark without its record until the wallet is killed.
    env = {**E2E_ENV, "PAYFLOW_MARK_PRUNE_INTERVAL_S": "3600", "PAYFLOW_MARK_CROWD": "100000"}
    with ServiceStack(
        mongo_url=stores.mongo_url,
        redis_url=stores.redis_url,
        work_dir=tmp_path_factory.mktemp("crash-windows-wallet"),
        services=("wallet", "ledger", "orchestrator", "webhooks", "gateway"),
        extra_env=env,
    ) as running:
        yield running


async def wallet_state(stack: ServiceStack, wallet_id: str, operation: str) -> tuple[Any, Any]:
    client: Any = AsyncMongoClient(stack.mongo_url, tz_aware=True)
    try:
        db = client[f"{stack.database_prefix}_wallet"]
        wallet = await db["wallets"].find_one({"_id": wallet_id})
        record = await db["wallet_operations"].find_one({"_id": operation})
        return wallet, record
    finally:
        await client.close()


async def test_a_wallet_killed_before_recording_its_decisions_loses_and_doubles_nothing(
    slow_pruner_stack: ServiceStack,
) -> None:
    """A debit's decision is written to the wallet as a mark carrying its record; the record
    itself is written by the pruner later. The wallet is killed in between (SIGKILL): its
    successor's pruner writes the record from the mark and drops the mark, no money moves
    twice, and the transfer's operation answers the same after the mark is gone."""
    stack = slow_pruner_stack
    gateway = stack.url("gateway")
    alice, bob = await register(gateway, "alice"), await register(gateway, "bob")
    await alice.top_up(1_000)
    answer = await alice.transfer(bob.wallet_id, 250)
    transfer = answer.json()
    assert transfer["status"] == "completed", transfer
    debit = f"{transfer['id']}:debit_source"
    wallet, record = await wallet_state(stack, alice.wallet_id, debit)
    assert record is None
    [mark] = [v for k, v in wallet["marks"].items() if k == debit]
    assert (mark["v"], mark["k"], mark["a"]) == ("debited", "debit", 250)

    stack.kill("wallet")
    stack.extra_env["PAYFLOW_MARK_PRUNE_INTERVAL_S"] = "0.3"
    stack.extra_env["PAYFLOW_MARK_MIN_AGE_S"] = "0"
    await asyncio.to_thread(stack.restart, "wallet")

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        wallet, record = await wallet_state(stack, alice.wallet_id, debit)
        if record is not None and debit not in wallet["marks"]:
            break
        await asyncio.sleep(0.2)
    assert record is not None and debit not in wallet["marks"], (wallet, record)
    assert (record["verdict"], record["kind"], record["amount"], record["outcome"]) == (
        "debited",
        "debit",
        250,
        "debited",
    )
    assert wallet["pruned_through_ms"] is not None and wallet["pruned_through_ms"] > 0
    assert await alice.balance() == 750 and await bob.balance() == 250
    # The wallet goes on deciding after the prune: a later transfer of the same pair.
    again = await alice.transfer(bob.wallet_id, 100)
    assert again.json()["status"] == "completed", again.text
    assert await alice.balance() == 650 and await bob.balance() == 350
