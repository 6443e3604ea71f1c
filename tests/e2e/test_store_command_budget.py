"""How many store commands one happy transfer costs, counted, not timed.

Every service counts the commands it sends to its document store
(`payflow_store_commands_total{service, command, origin}`). On a stack of its own, after a
warm-up, a run of transfers between the same two wallets must cost the budget below per transfer
(give or take NOISE commands a run): a change that adds a read on the hot path fails here,
whatever the machine's speed.
Upkeep (sweepers, pruners, gauges, batched event flags) is counted apart: it costs commands per
second of time, not per payment.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from e2e_support import E2E_ENV, register

from payflow_testing import ServiceStack
from payflow_testing.stores import StoreEndpoints

pytestmark = pytest.mark.e2e

TRANSFERS = 20
NOISE = 2
"""Commands a whole run may spend beyond the budget: recovery that a loaded machine can trigger
on the path (a stream message delivered twice, an event republished) costs a command or two per
run; a regression costs at least one per transfer, TRANSFERS in all."""

# Per happy transfer, no webhook endpoint subscribed. See docs/performance.md for what each is.
BUDGET = {
    "gateway": 0,  # users are remembered between changes; idempotency records live in Redis
    "orchestrator": 4,  # saga insert, one compare-and-set per reply (flags ride along)
    "wallet": 2,  # per operation: the guarded balance write (its mark carries the record)
    "ledger": 1,  # the journal insert (account currencies are remembered)
    "webhooks": 2,  # one event insert per event (subscribers are remembered)
}

DRIVER = {"hello", "ismaster", "isMaster", "ping", "endSessions", "buildInfo"}
SAMPLE = re.compile(r"^payflow_store_commands_total\{([^}]*)\}\s+([0-9.e+]+)$", re.M)
LABEL = re.compile(r'(\w+)="([^"]*)"')


@pytest.fixture(scope="module")
def quiet_stack(
    stores: StoreEndpoints, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceStack]:
    # Its own stack: nothing left over from other tests adds work while this one counts.
    # Default timings: the shortened ones of the other suites (1.5 s step deadline, 2 s claim
    # idle) would let a loaded machine re-send or re-deliver, which is recovery, not the path.
    # Costs paid per second of time, not per payment, are set aside the same way: the maximum
    # age of remembered users, endpoints and fault rules (one reload per item per age). The
    # wallet's mark pruner runs at its default pace: what it writes is upkeep, and a prune
    # does not make the next operation on the wallet read it again.
    env = {
        "PAYFLOW_BCRYPT_ROUNDS": E2E_ENV["PAYFLOW_BCRYPT_ROUNDS"],
        "PAYFLOW_REMEMBERED_MAX_AGE_S": "3600",
    }
    with ServiceStack(
        mongo_url=stores.mongo_url,
        redis_url=stores.redis_url,
        work_dir=tmp_path_factory.mktemp("budget-stack"),
        services=("wallet", "ledger", "orchestrator", "webhooks", "gateway"),
        extra_env=env,
    ) as running:
        yield running


def work_by_command(metrics_text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for labels, value in SAMPLE.findall(metrics_text):
        found = dict(LABEL.findall(labels))
        if found.get("origin") == "work" and found.get("command") not in DRIVER:
            counts[found["command"]] = counts.get(found["command"], 0) + int(float(value))
    return counts


def work_commands(metrics_text: str) -> int:
    return sum(work_by_command(metrics_text).values())


def events_received(metrics_text: str) -> int:
    pattern = re.compile(r"^payflow_webhook_events_received_total\{[^}]*\}\s+([0-9.e+]+)$", re.M)
    return sum(int(float(v)) for v in pattern.findall(metrics_text))


async def scrape(client: httpx.AsyncClient, stack: ServiceStack) -> dict[str, str]:
    names = list(BUDGET)
    texts = await asyncio.gather(*(client.get(f"{stack.url(n)}/metrics") for n in names))
    return {n: t.text for n, t in zip(names, texts, strict=True)}


async def settle(client: httpx.AsyncClient, stack: ServiceStack, events: int) -> dict[str, str]:
    """Metrics once the webhooks service has taken in `events` events (it works after the
    transfer's answer), and nothing moves any more."""
    deadline = time.monotonic() + 30
    while True:
        texts = await scrape(client, stack)
        if events_received(texts["webhooks"]) >= events:
            await asyncio.sleep(1.0)
            again = await scrape(client, stack)
            if all(work_commands(again[n]) == work_commands(texts[n]) for n in BUDGET):
                return again
        assert time.monotonic() < deadline, "the stack did not settle"
        await asyncio.sleep(0.1)


async def test_a_happy_transfer_costs_its_store_command_budget_and_no_more(
    quiet_stack: ServiceStack, tmp_path: Path
) -> None:
    gateway = quiet_stack.url("gateway")
    payer, payee = await register(gateway, "payer"), await register(gateway, "payee")
    try:
        await payer.top_up(1_000_000)
        for _ in range(3):  # warm-up: caches of wallets, accounts and users fill here
            answer = await payer.transfer(payee.wallet_id, 10)
            assert answer.json()["status"] == "completed", answer.text
        async with httpx.AsyncClient(timeout=10) as client:
            before = await settle(client, quiet_stack, events=2 * (1 + 3))
            for _ in range(TRANSFERS):
                answer = await payer.transfer(payee.wallet_id, 10, key=uuid.uuid4().hex)
                assert answer.status_code == 200, answer.text
                assert answer.json()["status"] == "completed", answer.text
            after = await settle(client, quiet_stack, events=2 * (1 + 3 + TRANSFERS))
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
        assert sum(BUDGET.values()) == 9
    finally:
        await payer.client.aclose()
        await payee.client.aclose()
