"""Adversarial end-to-end stories: real processes killed with SIGKILL in the middle of real
traffic, clients that retry as real clients do, and a burst of look-alike requests racing for
money that is not there. Everything goes through the gateway over HTTP; every process killed
here is started again before the test ends, so the shared stack stays whole.

Guarantees exercised: 1 (money conserved), 2 (never negative), 4 (every saga terminal after a
crash), 7 (one idempotency key, one transfer), 8 (every completed transfer's webhook arrives)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from e2e_support import Customer, reconcile
from standardwebhooks import Webhook

from payflow_testing import ServiceStack
from payflow_testing.receiver import Receiver

pytestmark = pytest.mark.e2e

RETRYABLE = (409, 503)
"""What a well-behaved client retries with the same Idempotency-Key: the key is still held by an
earlier attempt, or a service is restarting."""


# ------------------------------------------------------------------ helpers


@contextlib.asynccontextmanager
async def crashed(stack: ServiceStack, name: str) -> AsyncIterator[None]:
    """`name` dies by SIGKILL (no shutdown hooks) for the duration of the block, then starts
    again; it is restarted even when the block fails, so later tests find the stack whole."""
    process = stack.processes[name].process
    assert process is not None and process.poll() is None, f"{name} was not running"
    stack.kill(name)
    try:
        yield
    finally:
        await asyncio.to_thread(stack.restart, name)


class Progress:
    """Counts answered requests and requests on the wire; fires `reached` at a threshold."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.answered = 0
        self.in_flight = 0
        self.reached = asyncio.Event()

    @contextlib.contextmanager
    def request(self) -> Iterator[None]:
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1

    def answer(self) -> None:
        self.answered += 1
        if self.answered >= self.threshold:
            self.reached.set()


async def send_until_answered(
    customer: Customer,
    destination: str,
    amount: int,
    key: str,
    *,
    wait: bool,
    progress: Progress | None = None,
    give_up_after: float = 120,
    **extra: Any,
) -> httpx.Response:
    """POST a transfer, retrying with the SAME key on 409/503 and on transport errors (the
    gateway gone, a connection cut), until an answer that is not retryable comes back."""
    deadline = time.monotonic() + give_up_after
    attempts: list[str] = []
    response: httpx.Response
    while True:
        try:
            with progress.request() if progress else contextlib.nullcontext():
                response = await customer.transfer(destination, amount, key=key, wait=wait, **extra)
        except httpx.TransportError as exc:
            attempts.append(type(exc).__name__)
        else:
            if response.status_code not in RETRYABLE:
                if progress is not None:
                    progress.answer()
                return response
            attempts.append(str(response.status_code))
        if time.monotonic() > deadline:
            raise AssertionError(f"key {key}: no answer after {give_up_after}s: {attempts}")
        await asyncio.sleep(0.3)


async def read(customer: Customer, url: str, **params: Any) -> Any:
    """GET, retried on a transport error as any client retries a safe read: a keep-alive
    connection the server closes just as it is reused fails without an answer."""
    for attempt in range(5):
        try:
            response = await customer.client.get(url, params=params)
        except httpx.TransportError:
            if attempt == 4:
                raise
            await asyncio.sleep(0.2)
            continue
        assert response.status_code == 200, (url, response.status_code, response.text)
        return response.json()
    raise AssertionError("unreachable")


async def balance(customer: Customer) -> int:
    return int((await read(customer, f"/v1/wallets/{customer.wallet_id}"))["balance"])


async def wait_terminal(customer: Customer, transfer_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        transfer: dict[str, Any] = await read(customer, f"/v1/transfers/{transfer_id}")
        if transfer["status"] in ("completed", "failed"):
            return transfer
        if time.monotonic() > deadline:
            raise AssertionError(f"transfer not terminal after {timeout}s: {transfer}")
        await asyncio.sleep(0.2)


async def funded(customers: Any, n: int, amount: int, name: str) -> list[Customer]:
    people = [await customers(f"{name}{i}") for i in range(n)]
    await asyncio.gather(*(p.top_up(amount) for p in people))
    return people


async def settle(started: list[tuple[Customer, str]], timeout: float = 120) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(wait_terminal(c, t, timeout) for c, t in started)))


async def all_transfers_of(customer: Customer) -> list[dict[str, Any]]:
    """Every transfer touching the customer's wallet, following the cursor."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"wallet_id": customer.wallet_id, "limit": 100}
        if cursor:
            params["cursor"] = cursor
        body = await read(customer, "/v1/transfers", **params)
        found.extend(body["data"])
        cursor = body["next_cursor"]
        if not cursor:
            return found


async def assert_money_conserved(
    people: list[Customer], total: int, admin: httpx.AsyncClient
) -> None:
    balances = [await balance(p) for p in people]
    assert min(balances) >= 0, f"a negative balance: {balances}"
    assert sum(balances) == total, f"money created or lost: {balances} (expected {total})"
    report = await reconcile(admin, timeout=90)
    assert report["ok"], report
    assert report["ledger_balanced"] is True
    assert report["mismatches"] == []
    assert report["stuck_transfers"] == 0


# ------------------------------------------------------------------ 1. ledger crash


async def test_the_ledger_dies_mid_traffic_and_every_transfer_still_settles_with_money_conserved(
    customers: Any, admin: httpx.AsyncClient, stack: ServiceStack
) -> None:
    people = await funded(customers, 6, 2_000, "ledger-crash")
    rng = random.Random(7)
    plan = [(*rng.sample(people, 2), rng.randint(1, 500)) for _ in range(80)]
    progress = Progress(threshold=12)
    gate = asyncio.Semaphore(6)

    async def one(source: Customer, destination: Customer, amount: int) -> tuple[Customer, str]:
        async with gate:
            response = await send_until_answered(
                source,
                destination.wallet_id,
                amount,
                uuid.uuid4().hex,
                wait=False,
                progress=progress,
            )
        assert response.status_code == 202, response.text
        return source, str(response.json()["id"])

    traffic = asyncio.gather(*(one(*step) for step in plan))
    await asyncio.wait_for(progress.reached.wait(), timeout=30)
    assert not traffic.done(), "the crash must land in the middle of the traffic"
    async with crashed(stack, "ledger"):
        # Longer than a posting's whole step budget (1.5 s x 3 sends): some sagas give up on
        # the posting and must reverse or cancel it while the ledger is still dead.
        await asyncio.sleep(5.0)

    started = list(await traffic)
    assert len({transfer_id for _, transfer_id in started}) == len(plan)
    transfers = await settle(started)
    assert {t["status"] for t in transfers} <= {"completed", "failed"}, [
        (t["id"], t["state"]) for t in transfers if t["status"] not in ("completed", "failed")
    ]
    assert any(t["status"] == "completed" for t in transfers)
    await assert_money_conserved(people, 6 * 2_000, admin)


# ------------------------------------------------------------------ 2. gateway crash


async def test_the_gateway_dies_with_requests_in_flight_and_each_retried_key_makes_one_transfer(
    customers: Any, admin: httpx.AsyncClient, stack: ServiceStack
) -> None:
    people = await funded(customers, 4, 1_000, "gw-crash")
    plan = [
        (people[i % 4], people[(i + 1) % 4], 5 + i, f"gw-crash-{i}-{uuid.uuid4().hex}")
        for i in range(40)
    ]
    progress = Progress(threshold=6)

    async def one(source: Customer, destination: Customer, amount: int, key: str) -> httpx.Response:
        return await send_until_answered(
            source,
            destination.wallet_id,
            amount,
            key,
            wait=True,
            progress=progress,
            metadata={"client_key": key},  # lets the listing be grouped by key below
        )

    traffic = asyncio.gather(*(one(*step) for step in plan))
    await asyncio.wait_for(progress.reached.wait(), timeout=30)
    in_flight_at_kill = progress.in_flight
    assert not traffic.done(), "the crash must land in the middle of the traffic"
    async with crashed(stack, "gateway"):
        await asyncio.sleep(1.0)
    assert in_flight_at_kill >= 10, f"only {in_flight_at_kill} requests were on the wire"

    answers = list(await traffic)
    answered_ids: dict[str, str] = {}
    for (_, _, _, key), response in zip(plan, answers, strict=True):
        assert response.status_code in (200, 202), (key, response.status_code, response.text)
        answered_ids[key] = response.json()["id"]
    assert len(set(answered_ids.values())) == len(plan), "two keys were answered with one transfer"

    # The system's own records: per key exactly one transfer, the one the client was told about.
    for person in people:
        mine = [
            t
            for t in await all_transfers_of(person)
            if t["kind"] == "transfer" and t["source_wallet_id"] == person.wallet_id
        ]
        ids_by_key: dict[str, set[str]] = defaultdict(set)
        for transfer in mine:
            ids_by_key[transfer["metadata"]["client_key"]].add(transfer["id"])
        my_keys = {key for source, _, _, key in plan if source is person}
        assert set(ids_by_key) == my_keys
        duplicated = {k: ids for k, ids in ids_by_key.items() if len(ids) != 1}
        assert duplicated == {}, f"one key, several transfers: {duplicated}"
        assert len(mine) == len(my_keys)
        assert {k: ids.pop() for k, ids in ids_by_key.items()} == {
            k: answered_ids[k] for k in my_keys
        }

    # Yet another retry of every key, long after: the stored answer, the same transfer.
    for source, destination, amount, key in plan:
        replay = await send_until_answered(
            source, destination.wallet_id, amount, key, wait=False, metadata={"client_key": key}
        )
        assert replay.status_code in (200, 202), replay.text
        assert replay.headers.get("idempotent-replayed") == "true"
        assert replay.json()["id"] == answered_ids[key]

    transfers = await settle([(source, answered_ids[key]) for source, _, _, key in plan])
    assert {t["status"] for t in transfers} <= {"completed", "failed"}
    await assert_money_conserved(people, 4 * 1_000, admin)


# ------------------------------------------------------------------ 3. webhook worker crash


async def test_every_completed_transfer_is_delivered_signed_even_when_the_worker_dies_mid_delivery(
    customers: Any, stack: ServiceStack
) -> None:
    alice, bob = await customers("hook-alice"), await customers("hook-bob")
    receiver = Receiver()
    receiver.start()
    path = f"/alice-{uuid.uuid4().hex[:8]}"
    # The first deliveries hang on the receiver, so the worker is killed with them on the wire.
    hung, hang_s = 4, 10.0
    receiver.script(path, *[Receiver.Reply(delay_s=hang_s) for _ in range(hung)])
    try:
        created = await alice.client.post(
            "/v1/webhook-endpoints",
            json={"url": receiver.url(path), "event_types": ["transfer.completed"]},
        )
        assert created.status_code == 201, created.text
        endpoint = created.json()
        deliveries_url = f"/v1/webhook-endpoints/{endpoint['id']}/deliveries"
        top_up = await alice.top_up(1_000)

        # 16 affordable transfers and 4 that cannot be paid, all at once.
        amounts = [50] * 16 + [5_000] * 4
        random.Random(3).shuffle(amounts)
        responses = await asyncio.gather(
            *(
                send_until_answered(alice, bob.wallet_id, amount, uuid.uuid4().hex, wait=True)
                for amount in amounts
            )
        )
        assert all(r.status_code in (200, 202) for r in responses), [r.text for r in responses]
        transfers = await settle([(alice, r.json()["id"]) for r in responses])
        completed = {t["id"] for t in transfers if t["status"] == "completed"}
        failed = {t["id"] for t in transfers if t["status"] == "failed"}
        assert len(completed) == 16 and len(failed) == 4
        expected = completed | {top_up["id"]}

        await receiver.wait_for(path, 3, timeout=30)
        async with crashed(stack, "webhooks-worker"):
            # Requests the receiver holds unanswered: the dead worker never saw their 2xx.
            cut_off = [
                r.headers["webhook-id"]
                for r in receiver.received(path)[:hung]
                if time.monotonic() - r.at < hang_s - 1.0
            ]
            pending = await read(alice, deliveries_url, status="pending")
            assert pending["data"], "no delivery was in progress when the worker died"
            await asyncio.sleep(1.0)
        assert cut_off, "no request was left hanging on the receiver when the worker died"

        # The delivery log is the source of truth: wait until every delivery succeeded and
        # the requests cut off by the crash were sent again.
        def settled(log: list[dict[str, Any]]) -> bool:
            redelivered = all(
                sum(r.headers["webhook-id"] == cut for r in receiver.received(path)) >= 2
                for cut in cut_off
            )
            succeeded = len(log) == len(expected) and all(d["status"] == "succeeded" for d in log)
            return redelivered and succeeded

        deadline = time.monotonic() + 75
        while True:
            deliveries = (await read(alice, deliveries_url, limit=100))["data"]
            if settled(deliveries) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.0)  # room for anything that should not come
        requests = receiver.received(path)
    finally:
        receiver.stop()

    assert {d["status"] for d in deliveries} == {"succeeded"}, [
        (d["id"], d["status"], d["attempts"]) for d in deliveries if d["status"] != "succeeded"
    ]
    assert len(deliveries) == len(expected)
    for cut in cut_off:
        assert sum(r.headers["webhook-id"] == cut for r in requests) >= 2, (
            f"{cut} was on the wire when the worker died and never sent again"
        )

    verifier = Webhook(endpoint["secret"])
    events_by_webhook_id: dict[str, dict[str, Any]] = {}
    for request in requests:
        payload = verifier.verify(request.body, request.headers)  # raises on a bad signature
        assert payload["id"] == request.headers["webhook-id"]
        assert payload["type"] == "transfer.completed"
        assert payload["data"]["status"] == "completed", payload["data"]
        first = events_by_webhook_id.setdefault(request.headers["webhook-id"], payload)
        assert first == payload, "a redelivery must carry the same event"
    delivered: dict[str, set[str]] = defaultdict(set)
    for webhook_id, payload in events_by_webhook_id.items():
        delivered[payload["data"]["id"]].add(webhook_id)
    missing = expected - set(delivered)
    assert missing == set(), f"completed transfers never delivered: {missing}"
    assert set(delivered) & failed == set(), "an event for a transfer that did not complete"
    assert set(delivered) == expected, set(delivered) - expected
    assert all(len(ids) == 1 for ids in delivered.values()), "one event per transfer, same id"


# ------------------------------------------------------------------ 4. look-alike burst


async def test_ten_identical_transfers_under_different_keys_race_for_money_that_covers_three(
    customers: Any,
) -> None:
    payer, payee = await customers("burst-payer"), await customers("burst-payee")
    await payer.top_up(1_000)
    amount = 300  # 1_000 pays for three of them, not four

    responses = await asyncio.gather(
        *(
            payer.transfer(
                payee.wallet_id,
                amount,
                key=f"burst-{i}-{uuid.uuid4().hex}",
                description="invoice 7",
            )
            for i in range(10)
        )
    )
    assert all(r.status_code in (200, 202) for r in responses), [r.text for r in responses]
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 10, "different keys are different transfers"
    transfers = await settle([(payer, transfer_id) for transfer_id in ids])
    completed = [t for t in transfers if t["status"] == "completed"]
    failed = [t for t in transfers if t["status"] == "failed"]
    assert len(completed) + len(failed) == 10

    payer_balance, payee_balance = await balance(payer), await balance(payee)
    assert payer_balance >= 0
    assert payee_balance >= 0
    assert 1 <= len(completed) <= 3
    assert len(completed) * amount == 1_000 - payer_balance, (len(completed), payer_balance)
    assert payee_balance == len(completed) * amount
    assert {t["failure_code"] for t in failed} <= {"insufficient_funds", "step_timeout"}
    if all(t["failure_code"] == "insufficient_funds" for t in failed):
        # Nothing was ever handed back, so the payer's balance only went down: a debit was
        # refused only once three had gone through.
        assert len(completed) == 3
