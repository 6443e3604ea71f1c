"""Webhooks end to end: the webhooks service and its worker as real processes, a real receiver.

The orchestrator's part is played by the test: it publishes `TransferEvent`s on the real stream.
The retry schedule is "1,2" (three attempts) and the ARQ job timeout 3 s, so the crash test's
job is picked up again about 13 s after it started.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from payflow_contracts import Envelope, new_id
from payflow_contracts.events import TransferEvent, transfer_event_id
from payflow_contracts.streams import StreamNames
from payflow_contracts.transfers import TRANSFER_EXAMPLE
from payflow_messaging import BusSigner, StreamPublisher
from payflow_testing import ServiceStack

pytestmark = pytest.mark.e2e

SERVICES = ("webhooks", "webhooks-worker")
FAST_WEBHOOKS = {
    "PAYFLOW_WEBHOOK_RETRY_SCHEDULE": "1,2",
    "PAYFLOW_WEBHOOK_RETRY_JITTER": "0.1",
    "PAYFLOW_WEBHOOK_TIMEOUT_S": "2",
    "PAYFLOW_WEBHOOK_JOB_TIMEOUT_S": "3",
    "PAYFLOW_WEBHOOK_WORKER_POLL_DELAY_S": "0.1",
    "PAYFLOW_WEBHOOK_SWEEPER_INTERVAL_S": "1",
    "PAYFLOW_WEBHOOK_SWEEPER_GRACE_S": "5",
    "PAYFLOW_STREAM_BLOCK_MS": "200",
    "PAYFLOW_STREAM_CLAIM_IDLE_MS": "2000",
}


@pytest.fixture(scope="module")
def trace_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("webhook-traces") / "spans.jsonl"


@pytest.fixture(scope="module")
def stack(
    stores: Any, tmp_path_factory: pytest.TempPathFactory, trace_file: Path
) -> Iterator[ServiceStack]:
    with ServiceStack(
        mongo_url=stores.mongo_url,
        redis_url=stores.redis_url,
        work_dir=tmp_path_factory.mktemp("webhooks-stack"),
        services=SERVICES,
        extra_env={
            **FAST_WEBHOOKS,
            "PAYFLOW_WEBHOOK_ALLOW_PRIVATE_URLS": "true",
            "PAYFLOW_TRACE_FILE": str(trace_file),
        },
    ) as running:
        yield running


class Webhooks:
    """The webhooks service's internal API, and the stream the orchestrator would publish on."""

    def __init__(self, client: httpx.AsyncClient, stack: ServiceStack, redis: Any) -> None:
        self.client = client
        self.stack = stack
        self.redis = redis

    async def endpoint(self, owner: str, url: str, event_types: list[str]) -> dict[str, Any]:
        answer = await self.client.post(
            "/internal/webhook-endpoints",
            params={"owner_id": owner},
            json={"url": url, "event_types": event_types},
        )
        assert answer.status_code == 201, answer.text
        created: dict[str, Any] = answer.json()
        return created

    async def publish(
        self, event_type: str, owners: list[str], traceparent: str | None = None
    ) -> TransferEvent:
        transfer_id = new_id("tr")
        event = TransferEvent(
            event_id=transfer_event_id(transfer_id, event_type),
            event_type=event_type,  # type: ignore[arg-type]
            transfer_id=transfer_id,
            owner_ids=owners,
            transfer={
                **TRANSFER_EXAMPLE,
                "id": transfer_id,
                "kind": "transfer",
                "status": "pending" if event_type == "transfer.created" else "completed",
                "amount": 1250,
                "currency": "USD",
            },
        )
        envelope = Envelope.wrap(event, saga_id=transfer_id, traceparent=traceparent)
        stream = StreamNames(self.stack.database_prefix).transfer_events
        await StreamPublisher(self.redis, BusSigner([self.stack.bus_signing_key])).publish_envelope(
            stream, envelope
        )
        return event

    async def deliveries(self, owner: str, endpoint_id: str) -> list[dict[str, Any]]:
        answer = await self.client.get(
            f"/internal/webhook-endpoints/{endpoint_id}/deliveries", params={"owner_id": owner}
        )
        assert answer.status_code == 200, answer.text
        data: list[dict[str, Any]] = answer.json()["data"]
        return data

    async def settled_delivery(
        self, owner: str, endpoint_id: str, status: str, timeout: float = 20
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        found: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            found = await self.deliveries(owner, endpoint_id)
            if found and found[0]["status"] == status:
                return found[0]
            await asyncio.sleep(0.2)
        raise AssertionError(f"no {status} delivery within {timeout}s: {found}")


@pytest.fixture
async def webhooks(stack: ServiceStack, redis_client: Any) -> AsyncIterator[Webhooks]:
    async with httpx.AsyncClient(
        base_url=stack.url("webhooks"),
        headers={"X-Internal-Token": stack.internal_token},
        timeout=10,
    ) as client:
        yield Webhooks(client, stack, redis_client)


async def test_a_completed_transfer_reaches_only_the_endpoint_subscribed_to_completions(
    webhooks: Webhooks, receiver: Any, unique: str, trace_file: Path
) -> None:
    completed_path, failed_path = f"/completed-{unique}", f"/failed-only-{unique}"
    completed = await webhooks.endpoint(
        "usr_a", receiver.url(completed_path), ["transfer.completed"]
    )
    failed_only = await webhooks.endpoint("usr_a", receiver.url(failed_path), ["transfer.failed"])
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    event = await webhooks.publish(
        "transfer.completed", ["usr_a", "usr_b"], traceparent=f"00-{trace_id}-00f067aa0ba902b7-01"
    )

    [request] = await receiver.wait_for(completed_path, 1)
    payload = Webhook(completed["secret"]).verify(request.body, request.headers)
    assert payload["id"] == event.event_id and payload["type"] == "transfer.completed"
    assert payload["data"]["amount"] == 1250 and payload["created_at"].endswith("Z")
    assert request.headers["webhook-id"] == event.event_id
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 30
    delivery = await webhooks.settled_delivery("usr_a", completed["id"], "succeeded")
    assert [a["status_code"] for a in delivery["attempts"]] == [200]
    assert receiver.received(failed_path) == []
    assert await webhooks.deliveries("usr_a", failed_only["id"]) == []
    metrics = httpx.get(f"{webhooks.stack.url('webhooks-worker')}/metrics").text
    assert 'payflow_webhook_deliveries_total{outcome="succeeded"}' in metrics
    assert 'payflow_webhook_attempts_total{result="success"}' in metrics
    assert "payflow_webhook_delivery_latency_seconds_bucket" in metrics

    # The job span and its outbound call belong to the trace the event came with.
    async def worker_spans() -> list[dict[str, Any]]:
        spans = [json.loads(line) for line in trace_file.read_text().splitlines()]
        return [
            s
            for s in spans
            if s["trace_id"] == trace_id and s["service"] == "payflow-webhooks-worker"
        ]

    deadline = time.monotonic() + 10
    spans: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        spans = await worker_spans()
        if any(s["kind"] == "CLIENT" for s in spans):
            break
        await asyncio.sleep(0.2)
    job = next(s for s in spans if s["name"] == "webhook deliver")
    call = next(s for s in spans if s["kind"] == "CLIENT" and s["name"].startswith("POST"))
    assert call["parent_span_id"] == job["span_id"]


async def test_another_users_endpoint_never_receives_this_users_events(
    webhooks: Webhooks, receiver: Any, unique: str
) -> None:
    mine, theirs = f"/mine-{unique}", f"/theirs-{unique}"
    own = await webhooks.endpoint("usr_me", receiver.url(mine), ["*"])
    other = await webhooks.endpoint("usr_other", receiver.url(theirs), ["*"])
    for event_type in ("transfer.created", "transfer.completed"):
        await webhooks.publish(event_type, ["usr_me", "usr_friend"])
    await receiver.wait_for(mine, 2)
    await asyncio.sleep(1.0)
    assert receiver.received(theirs) == []
    assert await webhooks.deliveries("usr_other", other["id"]) == []
    assert len(await webhooks.deliveries("usr_me", own["id"])) == 2
    hidden = await webhooks.client.get("/internal/events", params={"owner_id": "usr_other"})
    assert hidden.json()["data"] == []


async def test_a_receiver_failing_twice_gets_three_attempts_spaced_by_the_schedule(
    webhooks: Webhooks, receiver: Any, unique: str
) -> None:
    path = f"/flaky-{unique}"
    receiver.script(path, receiver.Reply(500), receiver.Reply(500), receiver.Reply(200))
    endpoint = await webhooks.endpoint("usr_a", receiver.url(path), ["transfer.completed"])
    event = await webhooks.publish("transfer.completed", ["usr_a"])
    requests = await receiver.wait_for(path, 3)
    assert {r.headers["webhook-id"] for r in requests} == {event.event_id}
    first_gap, second_gap = requests[1].at - requests[0].at, requests[2].at - requests[1].at
    assert 1.0 <= first_gap < 2.5, first_gap
    assert 2.0 <= second_gap < 3.5, second_gap
    delivery = await webhooks.settled_delivery("usr_a", endpoint["id"], "succeeded")
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 200]
    assert all(a["at"].endswith("Z") and a["duration_ms"] >= 0 for a in delivery["attempts"])


async def test_a_receiver_answering_410_gets_its_endpoint_disabled(
    webhooks: Webhooks, receiver: Any, unique: str
) -> None:
    path = f"/gone-{unique}"
    receiver.script(path, receiver.Reply(410))
    endpoint = await webhooks.endpoint("usr_a", receiver.url(path), ["*"])
    await webhooks.publish("transfer.failed", ["usr_a"])
    delivery = await webhooks.settled_delivery("usr_a", endpoint["id"], "failed")
    assert [a["status_code"] for a in delivery["attempts"]] == [410]
    answer = await webhooks.client.get(
        f"/internal/webhook-endpoints/{endpoint['id']}", params={"owner_id": "usr_a"}
    )
    assert answer.json()["status"] == "disabled"
    assert answer.json()["disabled_reason"] == "receiver_gone"
    await webhooks.publish("transfer.completed", ["usr_a"])
    await asyncio.sleep(1.0)
    assert len(receiver.received(path)) == 1


async def test_a_delivery_survives_kill_9_of_the_worker_in_flight(
    webhooks: Webhooks, stack: ServiceStack, receiver: Any, unique: str
) -> None:
    path = f"/crash-{unique}"
    # The first request is held long enough for the worker to die while waiting for it.
    receiver.script(path, receiver.Reply(200, delay_s=1.5))
    endpoint = await webhooks.endpoint("usr_a", receiver.url(path), ["transfer.completed"])
    event = await webhooks.publish("transfer.completed", ["usr_a"])
    await receiver.wait_for(path, 1)
    stack.kill("webhooks-worker")
    assert (await webhooks.deliveries("usr_a", endpoint["id"]))[0]["status"] == "pending"
    stack.restart("webhooks-worker")
    requests = await receiver.wait_for(path, 2, timeout=40)
    assert {r.headers["webhook-id"] for r in requests} == {event.event_id}
    delivery = await webhooks.settled_delivery("usr_a", endpoint["id"], "succeeded")
    assert [a["status_code"] for a in delivery["attempts"]] == [200]


async def test_a_failed_delivery_is_replayed_once_the_receiver_recovers(
    webhooks: Webhooks, receiver: Any, unique: str
) -> None:
    path = f"/down-{unique}"
    receiver.script(path, *[receiver.Reply(503)] * 3)
    endpoint = await webhooks.endpoint("usr_a", receiver.url(path), ["transfer.completed"])
    await webhooks.publish("transfer.completed", ["usr_a"])
    failed = await webhooks.settled_delivery("usr_a", endpoint["id"], "failed")
    assert [a["status_code"] for a in failed["attempts"]] == [503, 503, 503]
    replay = await webhooks.client.post(
        f"/internal/webhook-deliveries/{failed['id']}/retry", params={"owner_id": "usr_a"}
    )
    assert replay.status_code == 202
    replayed = await webhooks.settled_delivery("usr_a", endpoint["id"], "succeeded")
    assert replayed["id"] == failed["id"]
    assert [a["status_code"] for a in replayed["attempts"]] == [503, 503, 503, 200]
    assert len(receiver.received(path)) == 4


async def test_after_a_secret_rotation_both_secrets_verify_the_same_delivery(
    webhooks: Webhooks, receiver: Any, unique: str
) -> None:
    path = f"/rotated-{unique}"
    endpoint = await webhooks.endpoint("usr_a", receiver.url(path), ["transfer.completed"])
    rotated = await webhooks.client.post(
        f"/internal/webhook-endpoints/{endpoint['id']}/rotate-secret",
        params={"owner_id": "usr_a"},
    )
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    await webhooks.publish("transfer.completed", ["usr_a"])
    [request] = await receiver.wait_for(path, 1)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert Webhook(new_secret).verify(request.body, request.headers)
    assert Webhook(endpoint["secret"]).verify(request.body, request.headers)


# ---------------------------------------------------------------- the SSRF guard on


@pytest.fixture(scope="module")
def guarded_stack(stores: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceStack]:
    with ServiceStack(
        mongo_url=stores.mongo_url,
        redis_url=stores.redis_url,
        work_dir=tmp_path_factory.mktemp("guarded-stack"),
        services=SERVICES,
        extra_env={**FAST_WEBHOOKS, "PAYFLOW_WEBHOOK_ALLOW_PRIVATE_URLS": "false"},
    ) as running:
        yield running


async def test_private_urls_are_refused_when_the_guard_is_on(
    guarded_stack: ServiceStack, redis_client: Any, mongo_client: Any, receiver: Any, unique: str
) -> None:
    async with httpx.AsyncClient(
        base_url=guarded_stack.url("webhooks"),
        headers={"X-Internal-Token": guarded_stack.internal_token},
        timeout=10,
    ) as client:
        webhooks = Webhooks(client, guarded_stack, redis_client)
        for url in (receiver.url("/x"), "http://localhost:9/", "http://169.254.169.254/"):
            answer = await client.post(
                "/internal/webhook-endpoints",
                params={"owner_id": "usr_a"},
                json={"url": url, "event_types": ["*"]},
            )
            assert answer.status_code == 422
            assert answer.json()["code"] == "webhook_url_not_allowed"
        # A name that does not resolve yet is saved; if it later points at a private address
        # (here: the stored URL is swapped, as DNS rebinding would), the worker refuses to send.
        endpoint = await webhooks.endpoint("usr_a", "https://hooks.payflow.invalid/", ["*"])
        path = f"/rebound-{unique}"
        database = mongo_client[f"{guarded_stack.database_prefix}_webhooks"]
        await database["webhook_endpoints"].update_one(
            {"_id": endpoint["id"]}, {"$set": {"url": receiver.url(path)}}
        )
        await webhooks.publish("transfer.completed", ["usr_a"])
        failed = await webhooks.settled_delivery("usr_a", endpoint["id"], "failed")
        assert len(failed["attempts"]) == 3
        assert all(a["error"].startswith("refused:") for a in failed["attempts"])
        assert receiver.received(path) == []
