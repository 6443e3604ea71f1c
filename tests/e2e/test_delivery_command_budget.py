"""How many store commands a delivered webhook costs, counted, not timed.

Payer and payee each subscribe one endpoint to every event; each happy transfer then makes two
events (created, completed) for two owners: four deliveries. Per transfer the webhooks service
stores the two events and opens each event's deliveries in one write (4 commands), and the worker
settles each delivery with its attempt in one write (1 command a delivery, 4): 8 per transfer,
1.5 per delivered webhook, within the 3 the performance issue allows. The worker needs no read of
a delivery on a job's first run (the job carries the delivery as it was enqueued).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from e2e_support import E2E_ENV, register
from test_store_command_budget import work_by_command, work_commands

from payflow_testing import ServiceStack
from payflow_testing.receiver import Receiver
from payflow_testing.stores import StoreEndpoints

pytestmark = pytest.mark.e2e

TRANSFERS = 10
DELIVERIES_PER_TRANSFER = 4
NOISE = 2
BUDGET = {
    "webhooks": 4,  # per event: the event insert, its deliveries opened in one insert
    "webhooks-worker": 4,  # per delivery: the compare-and-set that also adds the attempt
}


@pytest.fixture(scope="module")
def delivery_stack(
    stores: StoreEndpoints, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceStack]:
    env = {
        "PAYFLOW_BCRYPT_ROUNDS": E2E_ENV["PAYFLOW_BCRYPT_ROUNDS"],
        "PAYFLOW_MARK_PRUNE_INTERVAL_S": "3600",
        "PAYFLOW_REMEMBERED_MAX_AGE_S": "3600",
    }
    with ServiceStack(
        mongo_url=stores.mongo_url,
        redis_url=stores.redis_url,
        work_dir=tmp_path_factory.mktemp("delivery-budget-stack"),
        services=("wallet", "ledger", "orchestrator", "webhooks", "webhooks-worker", "gateway"),
        extra_env=env,
    ) as running:
        yield running


async def scrape(client: httpx.AsyncClient, stack: ServiceStack) -> dict[str, str]:
    return {n: (await client.get(f"{stack.url(n)}/metrics")).text for n in BUDGET}


async def delivered(receiver: Receiver, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(receiver.requests) < count:
        assert time.monotonic() < deadline, f"{len(receiver.requests)} of {count} delivered"
        await asyncio.sleep(0.1)


async def settled(client: httpx.AsyncClient, stack: ServiceStack) -> dict[str, str]:
    """Metrics once nothing moves any more (the worker settles after the receiver answered)."""
    texts = await scrape(client, stack)
    while True:
        await asyncio.sleep(1.0)
        again = await scrape(client, stack)
        if all(work_commands(again[n]) == work_commands(texts[n]) for n in BUDGET):
            return again
        texts = again


async def test_a_delivered_webhook_costs_its_store_command_budget_and_no_more(
    delivery_stack: ServiceStack, tmp_path: Path
) -> None:
    gateway = delivery_stack.url("gateway")
    payer, payee = await register(gateway, "payer"), await register(gateway, "payee")
    receiver = Receiver()
    receiver.start()
    try:
        for customer, path in ((payer, "/payer"), (payee, "/payee")):
            created = await customer.client.post(
                "/v1/webhook-endpoints", json={"url": receiver.url(path), "event_types": ["*"]}
            )
            assert created.status_code == 201, created.text
        await payer.top_up(1_000_000)  # two events (created, completed) for the payer
        for _ in range(2):  # warm-up: remembered users, wallets, subscribers
            answer = await payer.transfer(payee.wallet_id, 10)
            assert answer.json()["status"] == "completed", answer.text
        warm = 2 + 2 * DELIVERIES_PER_TRANSFER
        async with httpx.AsyncClient(timeout=10) as client:
            await delivered(receiver, warm)
            before = await settled(client, delivery_stack)
            for _ in range(TRANSFERS):
                answer = await payer.transfer(payee.wallet_id, 10, key=uuid.uuid4().hex)
                assert answer.json()["status"] == "completed", answer.text
            await delivered(receiver, warm + TRANSFERS * DELIVERIES_PER_TRANSFER)
            after = await settled(client, delivery_stack)
        assert len(receiver.requests) == warm + TRANSFERS * DELIVERIES_PER_TRANSFER
        spent = {n: work_commands(after[n]) - work_commands(before[n]) for n in BUDGET}
        detail = {
            n: {
                c: v - work_by_command(before[n]).get(c, 0)
                for c, v in work_by_command(after[n]).items()
                if v != work_by_command(before[n]).get(c, 0)
            }
            for n in BUDGET
        }
        over = {n: spent[n] - BUDGET[n] * TRANSFERS for n in BUDGET}
        assert all(0 <= extra <= NOISE for extra in over.values()), json.dumps(
            {"extra commands per run": over, "per command": detail}
        )
        per_delivery = sum(BUDGET.values()) / DELIVERIES_PER_TRANSFER - 2 / DELIVERIES_PER_TRANSFER
        assert per_delivery <= 3  # the event inserts are the transfer's, not the deliveries'
    finally:
        receiver.stop()
        await payer.client.aclose()
        await payee.client.aclose()
