"""Service and worker in process against real stores, a real ARQ queue and a real receiver."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from standardwebhooks import Webhook

from payflow_contracts import Envelope, new_id
from payflow_contracts.clock import utc_now
from payflow_contracts.events import TransferEvent, transfer_event_id
from payflow_contracts.transfers import TRANSFER_EXAMPLE
from payflow_messaging import BusSigner, StreamPublisher
from payflow_webhooks.adapters.arq_queue import ArqDeliveryQueue, open_arq_pool, queue_name
from payflow_webhooks.adapters.dns import SystemResolver
from payflow_webhooks.bootstrap import Components
from payflow_webhooks.domain.delivery import open_delivery, replay, snapshot
from payflow_webhooks.domain.event import WebhookEvent
from payflow_webhooks.main import create_app as create_service
from payflow_webhooks.settings import WebhooksSettings
from payflow_webhooks.url_guard import UrlGuard
from payflow_webhooks.worker.jobs import COURIER, QUEUE, deliver_opened
from payflow_webhooks.worker.main import create_app as create_worker
from payflow_webhooks.worker.sender import WebhookSender

pytestmark = pytest.mark.integration


class Pipeline:
    def __init__(self, client: httpx.AsyncClient, service: Any, settings: WebhooksSettings) -> None:
        self.client = client
        self.components: Components = service.state.components
        self.settings = settings

    async def endpoint(self, url: str, owner: str = "usr_a") -> dict[str, Any]:
        answer = await self.client.post(
            "/internal/webhook-endpoints",
            params={"owner_id": owner},
            json={"url": url, "event_types": ["transfer.completed"]},
        )
        assert answer.status_code == 201
        created: dict[str, Any] = answer.json()
        return created

    async def deliveries(self, endpoint_id: str, owner: str = "usr_a") -> list[dict[str, Any]]:
        answer = await self.client.get(
            f"/internal/webhook-endpoints/{endpoint_id}/deliveries", params={"owner_id": owner}
        )
        data: list[dict[str, Any]] = answer.json()["data"]
        return data


def internal_client(service: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=service),
        base_url="http://test",
        headers={"X-Internal-Token": "test-token"},
    )


@pytest.fixture
async def pipeline(
    webhook_settings: Callable[..., WebhooksSettings],
) -> AsyncIterator[Pipeline]:
    settings = webhook_settings(webhook_sweeper_interval_s=0.2, webhook_sweeper_grace_s=1.0)
    service, worker = create_service(settings), create_worker(settings)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(service.router.lifespan_context(service))
        await stack.enter_async_context(worker.router.lifespan_context(worker))
        client = await stack.enter_async_context(internal_client(service))
        yield Pipeline(client, service, settings)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_completed_transfer_reaches_its_subscriber_signed_and_logged(
    pipeline: Pipeline, receiver: Any, redis_client: Any, wait_until: Any, unique: str
) -> None:
    path = f"/pipeline-{unique}"
    endpoint = await pipeline.endpoint(receiver.url(path))
    succeeded_before = sample("payflow_webhook_deliveries_total", outcome="succeeded")
    transfer_id = new_id("tr")
    event = TransferEvent(
        event_id=transfer_event_id(transfer_id, "transfer.completed"),
        event_type="transfer.completed",
        transfer_id=transfer_id,
        owner_ids=["usr_a"],
        transfer={**TRANSFER_EXAMPLE, "id": transfer_id, "amount": 1250, "currency": "USD"},
    )
    await StreamPublisher(redis_client, BusSigner(pipeline.settings.bus_keys())).publish_envelope(
        pipeline.settings.streams.transfer_events, Envelope.wrap(event, saga_id=transfer_id)
    )
    [request] = await receiver.wait_for(path, 1)
    payload = Webhook(endpoint["secret"]).verify(request.body, request.headers)
    assert payload["id"] == event.event_id and payload["type"] == "transfer.completed"
    assert payload["data"] == {
        **TRANSFER_EXAMPLE,
        "id": transfer_id,
        "amount": 1250,
        "currency": "USD",
    }
    assert request.headers["webhook-id"] == event.event_id

    async def settled() -> list[dict[str, Any]]:
        found = await pipeline.deliveries(endpoint["id"])
        return found if found and found[0]["status"] == "succeeded" else []

    [delivery] = await wait_until(settled)
    [attempt] = delivery["attempts"]
    assert attempt["status_code"] == 200 and attempt["error"] is None
    assert attempt["response_body"] == "ok" and attempt["duration_ms"] >= 0
    assert delivery["next_attempt_at"] is None
    assert sample("payflow_webhook_deliveries_total", outcome="succeeded") == succeeded_before + 1
    assert sample("payflow_webhook_delivery_latency_seconds_count") >= 1


async def test_the_sweeper_enqueues_again_a_pending_delivery_whose_job_is_gone(
    pipeline: Pipeline, receiver: Any, unique: str
) -> None:
    path = f"/swept-{unique}"
    endpoint = await pipeline.endpoint(receiver.url(path))
    now = utc_now()
    event = WebhookEvent(
        id=f"evt_{unique}",
        type="transfer.completed",
        transfer_id="tr_x",
        owner_ids=("usr_a",),
        data={"id": "tr_x"},
        created_at=now,
    )
    await pipeline.components.events.add(event)
    # As if the service died between storing the delivery and enqueueing its job.
    await pipeline.components.deliveries.add(
        open_delivery(
            delivery_id=new_id("del"),
            event_id=event.id,
            event_type=event.type,
            endpoint_id=endpoint["id"],
            owner_id="usr_a",
            event_created_at=now,
            traceparent=None,
            now=now - timedelta(minutes=1),
        )
    )
    [request] = await receiver.wait_for(path, 1, timeout=10)
    assert request.headers["webhook-id"] == event.id


async def test_a_replay_brings_a_deferred_job_forward(
    webhook_settings: Callable[..., WebhooksSettings], redis_client: Any
) -> None:
    settings = webhook_settings()
    pool = await open_arq_pool(settings.redis_url, settings.streams)
    try:
        queue = ArqDeliveryQueue(pool, queue_name(settings.streams), timedelta(hours=2))
        now = utc_now()
        opened = open_delivery(
            delivery_id=new_id("del"),
            event_id="evt_1",
            event_type="transfer.completed",
            endpoint_id="we_1",
            owner_id="usr_a",
            event_created_at=now,
            traceparent=None,
            now=now,
        )
        later = replace(opened, next_attempt_at=now + timedelta(hours=1))
        assert await queue.enqueue(later, None)
        assert await queue.is_scheduled(later)
        assert not await queue.enqueue(later, None)  # one job per delivery
        assert not await queue.enqueue(replay(later, now), None)
        score = await redis_client.zscore(queue_name(settings.streams), later.id)
        assert score <= (now + timedelta(seconds=1)).timestamp() * 1000
    finally:
        await pool.aclose()


# ---------------------------------------------------------------- one attempt, on the wire


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(follow_redirects=False, trust_env=False) as client:
        yield client


def sender(
    client: httpx.AsyncClient, *, guarded: bool = False, timeout: float = 2.0
) -> WebhookSender:
    guard = UrlGuard(allow_private=not guarded, resolver=SystemResolver())
    return WebhookSender(client, guard, timeout)


async def test_a_redirect_is_not_followed(
    http_client: httpx.AsyncClient, receiver: Any, unique: str
) -> None:
    path = f"/moved-{unique}"
    receiver.script(path, receiver.Reply(302, headers={"location": receiver.url(f"{path}-target")}))
    result = await sender(http_client).send(receiver.url(path), {}, b"{}")
    assert result.status_code == 302 and not result.succeeded
    assert receiver.received(f"{path}-target") == []


async def test_only_the_first_kilobyte_of_an_answer_is_kept(
    http_client: httpx.AsyncClient, receiver: Any, unique: str
) -> None:
    path = f"/chatty-{unique}"
    receiver.script(path, receiver.Reply(500, body=b"x" * 50_000))
    result = await sender(http_client).send(receiver.url(path), {}, b"{}")
    assert result.status_code == 500
    assert result.response_body == "x" * 1024


async def test_a_receiver_slower_than_the_timeout_fails_the_attempt(
    http_client: httpx.AsyncClient, receiver: Any, unique: str
) -> None:
    path = f"/slow-{unique}"
    receiver.script(path, receiver.Reply(200, delay_s=1.5))
    result = await sender(http_client, timeout=0.3).send(receiver.url(path), {}, b"{}")
    assert result.timed_out and result.status_code is None
    assert result.error == "no answer within 0.3s"


async def test_under_the_guard_a_loopback_target_is_never_contacted(
    http_client: httpx.AsyncClient, receiver: Any, unique: str
) -> None:
    for host in ("127.0.0.1", "localhost"):
        path = f"/guarded-{unique}-{host}"
        url = f"http://{host}:{receiver.port}{path}"
        result = await sender(http_client, guarded=True).send(url, {}, b"{}")
        assert result.blocked and result.error is not None
        assert result.error.startswith("refused:")
        assert receiver.received(path) == []


# ---------------------------------------------------------------- a fair share of the worker


@pytest.fixture
async def small_worker(
    webhook_settings: Callable[..., WebhooksSettings],
) -> AsyncIterator[Pipeline]:
    """A worker of four slots, two of which one endpoint may hold, with a timeout longer than
    any held answer of the test."""
    settings = webhook_settings(
        webhook_worker_max_jobs=4,
        webhook_max_in_flight_per_endpoint=2,
        webhook_timeout_s=60.0,
        webhook_worker_poll_delay_s=0.05,
    )
    service, worker = create_service(settings), create_worker(settings)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(service.router.lifespan_context(service))
        await stack.enter_async_context(worker.router.lifespan_context(worker))
        client = await stack.enter_async_context(internal_client(service))
        yield Pipeline(client, service, settings)


async def publish_completed(pipeline: Pipeline, redis: Any, owner: str) -> None:
    transfer_id = new_id("tr")
    event = TransferEvent(
        event_id=transfer_event_id(transfer_id, "transfer.completed"),
        event_type="transfer.completed",
        transfer_id=transfer_id,
        owner_ids=[owner],
        transfer={**TRANSFER_EXAMPLE, "id": transfer_id, "amount": 1, "currency": "USD"},
    )
    await StreamPublisher(redis, BusSigner(pipeline.settings.bus_keys())).publish_envelope(
        pipeline.settings.streams.transfer_events, Envelope.wrap(event, saga_id=transfer_id)
    )


async def test_a_slow_endpoint_does_not_hold_the_fast_ones_deliveries_back(
    small_worker: Pipeline, receiver: Any, redis_client: Any, unique: str
) -> None:
    slow_path, fast_path = f"/slow-{unique}", f"/fast-{unique}"
    # The slow endpoint answers nothing until the test lets it: its sends hold their slots.
    let_go = threading.Event()
    receiver.script(slow_path, *[receiver.Reply(hold=let_go) for _ in range(10)])
    await small_worker.endpoint(receiver.url(slow_path), owner="usr_slow")
    await small_worker.endpoint(receiver.url(fast_path), owner="usr_fast")
    try:
        for _ in range(10):
            await publish_completed(small_worker, redis_client, "usr_slow")
        await receiver.wait_for(slow_path, 2)  # two sends held: the endpoint's share
        for _ in range(4):
            await publish_completed(small_worker, redis_client, "usr_fast")
        # The fast endpoint's four deliveries go through the worker's two other slots while
        # the slow endpoint's backlog (eight more) waits its turn.
        await receiver.wait_for(fast_path, 4, timeout=30)
        assert len(receiver.received(slow_path)) == 2
    finally:
        let_go.set()
    await receiver.wait_for(slow_path, 10, timeout=60)  # and none of the slow ones is lost


async def test_the_worker_s_loops_are_seen_by_its_readiness(
    webhook_settings: Callable[..., WebhooksSettings],
) -> None:
    worker = create_worker(webhook_settings())
    async with (
        worker.router.lifespan_context(worker),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=worker), base_url="http://w") as client,
    ):
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        checks = ready.json()["checks"]
        assert checks["arq-worker"] == "ok" and checks["delivery-sweeper"] == "ok"
        # A loop that ends before shutdown makes the process unready.
        loop = worker.state.runtime.background["arq-worker"]
        loop.cancel()
        await asyncio.wait([loop], timeout=10)
        unready = await client.get("/readyz")
        assert unready.status_code == 503 and unready.json()["checks"]["arq-worker"] == "stopped"


async def queue_writes(redis: Any) -> int:
    """How many times a job was put in ARQ's queue: enqueued (ZADD) or deferred by a retry
    (ZINCRBY)."""
    stats = await redis.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("zadd", "zincrby"))


async def test_an_events_deliveries_share_one_first_job_and_a_failed_one_gets_its_own(
    pipeline: Pipeline, receiver: Any, redis_client: Any, wait_until: Any, unique: str
) -> None:
    """Payer and payee each subscribe: the event's two deliveries are first attempted by one
    ARQ job (one enqueue); the one whose receiver fails then gets a job of its own, which retries
    it on the schedule. Counted in Redis: two jobs put in the queue in all, where a job per
    delivery and that job's retry would make three."""
    ok_path, flaky_path = f"/payer-{unique}", f"/payee-{unique}"
    receiver.script(flaky_path, receiver.Reply(500))
    payer = await pipeline.endpoint(receiver.url(ok_path), owner="usr_payer")
    payee = await pipeline.endpoint(receiver.url(flaky_path), owner="usr_payee")
    enqueued_before = await queue_writes(redis_client)
    transfer_id = new_id("tr")
    event = TransferEvent(
        event_id=transfer_event_id(transfer_id, "transfer.completed"),
        event_type="transfer.completed",
        transfer_id=transfer_id,
        owner_ids=["usr_payer", "usr_payee"],
        transfer={**TRANSFER_EXAMPLE, "id": transfer_id, "amount": 7, "currency": "USD"},
    )
    await StreamPublisher(redis_client, BusSigner(pipeline.settings.bus_keys())).publish_envelope(
        pipeline.settings.streams.transfer_events, Envelope.wrap(event, saga_id=transfer_id)
    )
    await receiver.wait_for(ok_path, 1)
    await receiver.wait_for(flaky_path, 2, timeout=20)

    async def settled(endpoint: dict[str, Any], owner: str) -> list[dict[str, Any]]:
        found = await pipeline.deliveries(endpoint["id"], owner=owner)
        return found if found and found[0]["status"] == "succeeded" else []

    [first] = await wait_until(lambda: settled(payer, "usr_payer"))
    [retried] = await wait_until(lambda: settled(payee, "usr_payee"))
    assert [a["status_code"] for a in first["attempts"]] == [200]
    assert [a["status_code"] for a in retried["attempts"]] == [500, 200]
    assert len(receiver.received(ok_path)) == 1
    assert await queue_writes(redis_client) - enqueued_before == 2


@pytest.fixture
async def service_alone(
    webhook_settings: Callable[..., WebhooksSettings],
) -> AsyncIterator[Pipeline]:
    """The webhooks service without its worker: jobs stay in the queue where a test sees them."""
    settings = webhook_settings()
    service = create_service(settings)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(service.router.lifespan_context(service))
        client = await stack.enter_async_context(internal_client(service))
        yield Pipeline(client, service, settings)


def both_parties_completed() -> Envelope:
    transfer_id = new_id("tr")
    return Envelope.wrap(
        TransferEvent(
            event_id=transfer_event_id(transfer_id, "transfer.completed"),
            event_type="transfer.completed",
            transfer_id=transfer_id,
            owner_ids=["usr_payer", "usr_payee"],
            transfer={**TRANSFER_EXAMPLE, "id": transfer_id, "amount": 7, "currency": "USD"},
        ),
        saga_id=transfer_id,
    )


async def test_a_redelivered_event_adds_no_job_while_its_first_attempts_job_waits(
    service_alone: Pipeline, redis_client: Any
) -> None:
    """The stream delivers an event again (a crash before its XACK) while the event's job is
    still queued: its deliveries get no job of their own, which would send each twice at once."""
    await service_alone.endpoint("https://payer.example.com/hook", owner="usr_payer")
    await service_alone.endpoint("https://payee.example.com/hook", owner="usr_payee")
    envelope = both_parties_completed()
    first = await service_alone.components.intake.fan_out(envelope)
    again = await service_alone.components.intake.fan_out(envelope)
    assert [d.id for d in again] == [d.id for d in first]
    payload = envelope.open(TransferEvent)
    assert await redis_client.exists(f"arq:job:opened:{payload.event_id}") == 1
    assert await redis_client.exists(*(f"arq:job:{d.id}" for d in first)) == 0


async def test_a_rerun_of_an_events_job_hands_each_delivery_to_a_job_of_its_own(
    service_alone: Pipeline, redis_client: Any
) -> None:
    """The worker died mid-job and ARQ runs the event's job again: it sends nothing itself but
    gives each delivery its own job, and none twice (one already had its follow-up)."""
    await service_alone.endpoint("https://payer.example.com/hook", owner="usr_payer")
    await service_alone.endpoint("https://payee.example.com/hook", owner="usr_payee")
    envelope = both_parties_completed()
    deliveries = await service_alone.components.intake.fan_out(envelope)
    queue = service_alone.components.queue
    assert await queue.follow_up(deliveries[0].id, None, None, timedelta(minutes=5))
    ctx = {QUEUE: queue, COURIER: None, "job_try": 2}
    await deliver_opened(
        ctx, envelope.open(TransferEvent).event_id, None, [snapshot(d) for d in deliveries]
    )
    assert await redis_client.exists(*(f"arq:job:{d.id}" for d in deliveries)) == 2
    # The follow-up made before the crash keeps its time: it was not replaced by an earlier one.
    score = await redis_client.zscore(queue_name(service_alone.settings.streams), deliveries[0].id)
    assert score > (utc_now() + timedelta(minutes=4)).timestamp() * 1000
