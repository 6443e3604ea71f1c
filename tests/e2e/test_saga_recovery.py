"""Money is conserved under real concurrency and real crashes (guarantees 1, 2, 4, 5)."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

import httpx
import pytest
from e2e_support import Customer, reconcile, wait_terminal

from payflow_testing import ServiceStack

pytestmark = pytest.mark.e2e


async def storm(
    people: list[Customer],
    count: int,
    seed: int,
    concurrency: int = 25,
    until: asyncio.Event | None = None,
) -> list[tuple[Customer, str]]:
    """`count` transfers between random pairs, `concurrency` in flight at a time; with `until`,
    more keep coming until it is set, so traffic lasts however fast the machine is."""
    rng = random.Random(seed)
    gate = asyncio.Semaphore(concurrency)

    async def one(source: Customer, destination: Customer, amount: int) -> tuple[Customer, str]:
        key = uuid.uuid4().hex
        async with gate:
            # As a real client does: retry with the SAME key while a service is restarting.
            for _ in range(120):
                try:
                    response = await source.transfer(
                        destination.wallet_id, amount, key=key, wait=False
                    )
                except httpx.TransportError:
                    await asyncio.sleep(0.5)
                    continue
                if response.status_code not in (409, 503):
                    break
                await asyncio.sleep(0.5)
        assert response.status_code == 202, response.text
        return source, str(response.json()["id"])

    def planned() -> Any:
        return one(*rng.sample(people, 2), rng.randint(1, 400))

    tasks = [asyncio.create_task(planned()) for _ in range(count)]
    while until is not None and not until.is_set():
        async with gate:  # one more as soon as a slot frees up
            pass
        tasks.append(asyncio.create_task(planned()))
        await asyncio.sleep(0.01)
    return list(await asyncio.gather(*tasks))


async def settle(started: list[tuple[Customer, str]], timeout: float = 120) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(wait_terminal(c, t, timeout) for c, t in started)))


async def funded(customers: Any, n: int, amount: int) -> list[Customer]:
    people = [await customers(f"p{i}") for i in range(n)]
    await asyncio.gather(*(p.top_up(amount) for p in people))
    return people


async def test_200_concurrent_transfers_among_10_wallets_conserve_money(
    customers: Any, admin: httpx.AsyncClient
) -> None:
    people = await funded(customers, 10, 2_000)
    started = await storm(people, 200, seed=1)
    transfers = await settle(started)
    assert {t["status"] for t in transfers} <= {"completed", "failed"}
    assert any(t["status"] == "completed" for t in transfers)
    balances = [await p.balance() for p in people]
    assert sum(balances) == 10 * 2_000
    assert min(balances) >= 0
    report = await reconcile(admin)
    assert report["ok"], report
    assert report["ledger_balanced"] is True
    assert report["mismatches"] == []


async def test_killing_the_wallet_then_the_orchestrator_mid_saga_loses_nothing(
    customers: Any, admin: httpx.AsyncClient, stack: ServiceStack
) -> None:
    people = await funded(customers, 8, 3_000)
    stop = asyncio.Event()
    traffic = asyncio.create_task(storm(people, 100, seed=2, concurrency=10, until=stop))
    await asyncio.sleep(1.0)
    assert not traffic.done(), "the crash must land in the middle of the traffic"
    stack.kill("wallet")  # SIGKILL: in-flight commands stay pending in the stream
    await asyncio.sleep(2.0)
    await asyncio.to_thread(stack.restart, "wallet")
    await asyncio.sleep(0.5)
    assert not traffic.done(), "the crash must land in the middle of the traffic"
    stack.kill("orchestrator")  # SIGKILL mid-saga: replies wait in the stream meanwhile
    await asyncio.sleep(1.0)
    await asyncio.to_thread(stack.restart, "orchestrator")
    await asyncio.sleep(0.5)
    stop.set()
    started = await traffic
    transfers = await settle(started, timeout=180)
    assert {t["status"] for t in transfers} <= {"completed", "failed"}
    balances = [await p.balance() for p in people]
    assert sum(balances) == 8 * 3_000
    assert min(balances) >= 0
    report = await reconcile(admin, timeout=90)
    assert report["ok"], report
