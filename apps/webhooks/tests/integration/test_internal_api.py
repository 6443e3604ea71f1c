"""The internal HTTP API, in process against real stores: shapes, codes and owner scoping."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from payflow_contracts import Envelope, new_id
from payflow_contracts.events import TransferEvent, transfer_event_id
from payflow_contracts.transfers import TRANSFER_EXAMPLE
from payflow_messaging import BusSigner, StreamPublisher
from payflow_webhooks.adapters.arq_queue import queue_name
from payflow_webhooks.adapters.redis import HOUR_S, HourlyReplayQuota
from payflow_webhooks.domain.errors import QuotaSpent
from payflow_webhooks.main import create_app
from payflow_webhooks.settings import WebhooksSettings

pytestmark = pytest.mark.integration

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class Service:
    def __init__(self, client: httpx.AsyncClient, settings: WebhooksSettings, redis: Any) -> None:
        self.client = client
        self.settings = settings
        self.redis = redis

    async def create_endpoint(self, owner: str, **body: Any) -> httpx.Response:
        payload = {"url": "https://hooks.example.com/payflow", "event_types": ["*"], **body}
        return await self.client.post(
            "/internal/webhook-endpoints", params={"owner_id": owner}, json=payload
        )

    async def publish(
        self, event_type: str = "transfer.completed", owners: tuple[str, ...] = ("usr_a", "usr_b")
    ) -> str:
        transfer_id = new_id("tr")
        event = TransferEvent(
            event_id=transfer_event_id(transfer_id, event_type),
            event_type=event_type,  # type: ignore[arg-type]
            transfer_id=transfer_id,
            owner_ids=list(owners),
            transfer={
                **TRANSFER_EXAMPLE,
                "id": transfer_id,
                "amount": 1250,
                "currency": "USD",
                "status": "completed",
            },
        )
        envelope = Envelope.wrap(event, saga_id=transfer_id, traceparent=TRACEPARENT)
        await StreamPublisher(self.redis, BusSigner(self.settings.bus_keys())).publish_envelope(
            self.settings.streams.transfer_events, envelope
        )
        return event.event_id


async def running(app: Any, settings: WebhooksSettings, redis: Any) -> AsyncIterator[Service]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://test",
            headers={"X-Internal-Token": "test-token"},
        ) as client,
    ):
        yield Service(client, settings, redis)


@pytest.fixture
async def service(
    webhook_settings: Callable[..., WebhooksSettings], redis_client: Any
) -> AsyncIterator[Service]:
    settings = webhook_settings()
    async for running_service in running(create_app(settings), settings, redis_client):
        yield running_service


async def test_creating_an_endpoint_shows_its_secret_once(service: Service) -> None:
    created = await service.create_endpoint("usr_a", description="ops")
    assert created.status_code == 201
    body = created.json()
    assert body["id"].startswith("we_") and body["secret"].startswith("whsec_")
    assert body["status"] == "enabled" and body["event_types"] == ["*"]
    assert body["description"] == "ops" and body["created_at"].endswith("Z")
    fetched = await service.client.get(
        f"/internal/webhook-endpoints/{body['id']}", params={"owner_id": "usr_a"}
    )
    assert fetched.status_code == 200 and "secret" not in fetched.json()
    listed = await service.client.get("/internal/webhook-endpoints", params={"owner_id": "usr_a"})
    assert [e["id"] for e in listed.json()["data"]] == [body["id"]]
    assert listed.json()["next_cursor"] is None


async def test_another_owner_sees_404_for_every_endpoint_call(service: Service) -> None:
    endpoint_id = (await service.create_endpoint("usr_a")).json()["id"]
    stranger = {"owner_id": "usr_z"}
    base = f"/internal/webhook-endpoints/{endpoint_id}"
    answers = [
        await service.client.get(base, params=stranger),
        await service.client.patch(base, params=stranger, json={"description": "x"}),
        await service.client.delete(base, params=stranger),
        await service.client.post(f"{base}/rotate-secret", params=stranger),
        await service.client.get(f"{base}/deliveries", params=stranger),
    ]
    for answer in answers:
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"] == "webhook_endpoint_not_found"
    listed = await service.client.get("/internal/webhook-endpoints", params=stranger)
    assert listed.json()["data"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://hooks.example.com/", "event_types": ["*"]},
        {"url": "not a url", "event_types": ["*"]},
        {"url": "https://hooks.example.com/", "event_types": ["transfer.disputed"]},
        {"url": "https://hooks.example.com/", "event_types": []},
        {"url": "https://hooks.example.com/", "event_types": ["*", "transfer.failed"]},
        {"url": "https://hooks.example.com/"},
    ],
)
async def test_a_bad_url_or_event_type_is_a_validation_error(
    service: Service, body: dict[str, Any]
) -> None:
    answer = await service.client.post(
        "/internal/webhook-endpoints", params={"owner_id": "usr_a"}, json=body
    )
    assert answer.status_code == 422
    assert answer.json()["code"] == "validation_error"
    assert answer.json()["errors"]


async def test_calls_need_the_service_token_and_an_owner(service: Service) -> None:
    no_owner = await service.client.get("/internal/webhook-endpoints")
    assert no_owner.status_code == 422 and no_owner.json()["code"] == "validation_error"
    no_token = await service.client.get(
        "/internal/webhook-endpoints",
        params={"owner_id": "usr_a"},
        headers={"X-Internal-Token": "wrong"},
    )
    assert no_token.status_code == 401


async def test_an_endpoint_is_updated_disabled_enabled_rotated_and_deleted(
    service: Service,
) -> None:
    created = (await service.create_endpoint("usr_a", description="old")).json()
    base = f"/internal/webhook-endpoints/{created['id']}"
    owner = {"owner_id": "usr_a"}
    edited = await service.client.patch(
        base,
        params=owner,
        json={"url": "https://other.example.com/h", "event_types": ["transfer.failed"]},
    )
    assert edited.status_code == 200
    assert edited.json()["url"] == "https://other.example.com/h"
    assert edited.json()["event_types"] == ["transfer.failed"]
    assert edited.json()["description"] == "old"
    disabled = await service.client.patch(base, params=owner, json={"status": "disabled"})
    assert disabled.json()["status"] == "disabled"
    assert disabled.json()["disabled_reason"] == "by_owner"
    enabled = await service.client.patch(
        base, params=owner, json={"status": "enabled", "description": None}
    )
    assert enabled.json()["status"] == "enabled" and enabled.json()["description"] is None
    bad = await service.client.patch(base, params=owner, json={"event_types": ["nope"]})
    assert bad.status_code == 422 and bad.json()["code"] == "validation_error"
    rotated = await service.client.post(f"{base}/rotate-secret", params=owner)
    assert rotated.status_code == 200
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != created["secret"]
    assert (await service.client.delete(base, params=owner)).status_code == 204
    gone = await service.client.get(base, params=owner)
    assert gone.status_code == 404 and gone.json()["code"] == "webhook_endpoint_not_found"


async def test_private_urls_are_refused_when_the_guard_is_on(
    webhook_settings: Callable[..., WebhooksSettings], redis_client: Any
) -> None:
    settings = webhook_settings(webhook_allow_private_urls=False)
    async for guarded in running(create_app(settings), settings, redis_client):
        for url in (
            "http://127.0.0.1:9000/hook",
            "http://localhost/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/hook",
            "http://10.0.0.8/hook",
        ):
            answer = await guarded.create_endpoint("usr_a", url=url)
            assert answer.status_code == 422, url
            assert answer.json()["code"] == "webhook_url_not_allowed"
        endpoint_id = (await guarded.create_endpoint("usr_a", url="https://8.8.8.8/h")).json()["id"]
        patched = await guarded.client.patch(
            f"/internal/webhook-endpoints/{endpoint_id}",
            params={"owner_id": "usr_a"},
            json={"url": "http://192.168.1.1/"},
        )
        assert patched.json()["code"] == "webhook_url_not_allowed"


async def test_a_consumed_event_is_listed_for_each_owner_it_touches_and_no_one_else(
    service: Service, wait_until: Any
) -> None:
    event_id = await service.publish("transfer.completed", ("usr_a", "usr_b"))
    await service.publish("transfer.failed", ("usr_a",))

    async def events_of(owner: str, **query: str) -> list[dict[str, Any]]:
        answer = await service.client.get("/internal/events", params={"owner_id": owner, **query})
        assert answer.status_code == 200
        data: list[dict[str, Any]] = answer.json()["data"]
        return data

    async def both_stored() -> bool:
        return len(await events_of("usr_a")) == 2

    await wait_until(both_stored)
    assert [e["id"] for e in await events_of("usr_b")] == [event_id]
    completed = await events_of("usr_a", type="transfer.completed")
    assert [e["id"] for e in completed] == [event_id]
    assert set(completed[0]) == {"id", "type", "created_at", "data"}
    assert completed[0]["data"]["amount"] == 1250
    one = await service.client.get(f"/internal/events/{event_id}", params={"owner_id": "usr_b"})
    assert one.status_code == 200 and one.json()["type"] == "transfer.completed"
    hidden = await service.client.get(f"/internal/events/{event_id}", params={"owner_id": "usr_c"})
    assert hidden.status_code == 404 and hidden.json()["code"] == "event_not_found"
    bad_type = await service.client.get(
        "/internal/events", params={"owner_id": "usr_a", "type": "transfer.exploded"}
    )
    assert bad_type.status_code == 422


async def test_an_event_opens_one_pending_delivery_per_subscribed_endpoint_with_a_json_job(
    service: Service, wait_until: Any
) -> None:
    wanted = (await service.create_endpoint("usr_a", event_types=["transfer.completed"])).json()
    unwanted = (await service.create_endpoint("usr_a", event_types=["transfer.failed"])).json()
    event_id = await service.publish("transfer.completed", ("usr_a",))

    async def deliveries_of(endpoint_id: str) -> list[dict[str, Any]]:
        answer = await service.client.get(
            f"/internal/webhook-endpoints/{endpoint_id}/deliveries", params={"owner_id": "usr_a"}
        )
        data: list[dict[str, Any]] = answer.json()["data"]
        return data

    [delivery] = await wait_until(lambda: deliveries_of(wanted["id"]))
    assert delivery["event_id"] == event_id and delivery["status"] == "pending"
    assert delivery["attempts"] == [] and delivery["next_attempt_at"].endswith("Z")
    assert await deliveries_of(unwanted["id"]) == []
    # The job: id = delivery id, JSON (never pickle), in the run's own queue, carrying the trace.
    queue = queue_name(service.settings.streams)
    assert queue.startswith(service.settings.stream_prefix + ":")
    assert await service.redis.zscore(queue, delivery["id"]) is not None
    job = json.loads(await service.redis.get(f"arq:job:{delivery['id']}"))
    assert job["f"] == "deliver_webhook"
    assert job["a"][0] == delivery["id"]
    assert job["a"][1].split("-")[1] == TRACEPARENT.split("-")[1]


async def test_a_delivery_is_replayed_only_by_its_owner(service: Service, wait_until: Any) -> None:
    endpoint = (await service.create_endpoint("usr_a")).json()
    await service.publish("transfer.created", ("usr_a",))

    async def first_delivery() -> dict[str, Any] | None:
        answer = await service.client.get(
            f"/internal/webhook-endpoints/{endpoint['id']}/deliveries",
            params={"owner_id": "usr_a", "status": "pending"},
        )
        data = answer.json()["data"]
        return data[0] if data else None

    delivery = await wait_until(first_delivery)
    path = f"/internal/webhook-deliveries/{delivery['id']}"
    replayed = await service.client.post(f"{path}/retry", params={"owner_id": "usr_a"})
    assert replayed.status_code == 202 and replayed.json()["status"] == "pending"
    for owner, target in (("usr_z", path), ("usr_a", "/internal/webhook-deliveries/del_nope")):
        answer = await service.client.post(f"{target}/retry", params={"owner_id": owner})
        assert answer.status_code == 404 and answer.json()["code"] == "delivery_not_found"
    fetched = await service.client.get(path, params={"owner_id": "usr_a"})
    assert fetched.status_code == 200 and fetched.json()["id"] == delivery["id"]
    await service.client.patch(
        f"/internal/webhook-endpoints/{endpoint['id']}",
        params={"owner_id": "usr_a"},
        json={"status": "disabled"},
    )
    refused = await service.client.post(f"{path}/retry", params={"owner_id": "usr_a"})
    assert refused.status_code == 409 and refused.json()["code"] == "webhook_endpoint_disabled"


async def test_a_cursor_not_made_by_the_service_is_refused(service: Service) -> None:
    for path in ("/internal/events", "/internal/webhook-endpoints"):
        answer = await service.client.get(path, params={"owner_id": "usr_a", "cursor": "garbage"})
        assert answer.status_code == 400 and answer.json()["code"] == "invalid_cursor"


async def test_endpoints_are_listed_newest_first_a_page_at_a_time(service: Service) -> None:
    created = [(await service.create_endpoint("usr_p")).json()["id"] for _ in range(3)]
    first = await service.client.get(
        "/internal/webhook-endpoints", params={"owner_id": "usr_p", "limit": 2}
    )
    cursor = first.json()["next_cursor"]
    assert cursor is not None
    rest = await service.client.get(
        "/internal/webhook-endpoints", params={"owner_id": "usr_p", "limit": 2, "cursor": cursor}
    )
    assert rest.json()["next_cursor"] is None
    listed = [e["id"] for e in first.json()["data"] + rest.json()["data"]]
    assert sorted(listed) == sorted(created) and len(listed) == 3


# ---------------------------------------------------------------- quotas


@pytest.fixture
async def capped(
    webhook_settings: Callable[..., WebhooksSettings], redis_client: Any
) -> AsyncIterator[Service]:
    settings = webhook_settings(max_webhook_endpoints_per_user=3, max_delivery_retries_per_hour=2)
    async for running_service in running(create_app(settings), settings, redis_client):
        yield running_service


def assert_quota_problem(answer: httpx.Response, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "quota_exceeded"


async def test_twenty_concurrent_creations_make_exactly_the_cap_of_endpoints(
    capped: Service,
) -> None:
    answers = await asyncio.gather(*(capped.create_endpoint("usr_q") for _ in range(20)))
    assert sorted(a.status_code for a in answers) == [201] * 3 + [409] * 17
    for answer in answers:
        if answer.status_code == 409:
            assert_quota_problem(answer, 409)
            assert "PAYFLOW_MAX_WEBHOOK_ENDPOINTS_PER_USER" in answer.json()["detail"]
    listed = await capped.client.get("/internal/webhook-endpoints", params={"owner_id": "usr_q"})
    held = [e["id"] for e in listed.json()["data"]]
    assert len(held) == 3
    assert (await capped.create_endpoint("usr_other")).status_code == 201  # a cap per user
    deleted = await capped.client.delete(
        f"/internal/webhook-endpoints/{held[0]}", params={"owner_id": "usr_q"}
    )
    assert deleted.status_code == 204
    assert (await capped.create_endpoint("usr_q")).status_code == 201
    assert_quota_problem(await capped.create_endpoint("usr_q"), 409)


async def test_retries_past_the_hourly_quota_are_refused_and_change_nothing(
    capped: Service, wait_until: Any
) -> None:
    endpoint = (await capped.create_endpoint("usr_a")).json()
    await capped.publish("transfer.created", ("usr_a",))

    async def first_delivery() -> dict[str, Any] | None:
        answer = await capped.client.get(
            f"/internal/webhook-endpoints/{endpoint['id']}/deliveries",
            params={"owner_id": "usr_a"},
        )
        data = answer.json()["data"]
        return data[0] if data else None

    delivery = await wait_until(first_delivery)
    path = f"/internal/webhook-deliveries/{delivery['id']}"
    owner = {"owner_id": "usr_a"}
    # A retry that cannot happen is not counted.
    missing = await capped.client.post("/internal/webhook-deliveries/del_0/retry", params=owner)
    assert missing.status_code == 404
    for _ in range(2):
        assert (await capped.client.post(f"{path}/retry", params=owner)).status_code == 202
    before = (await capped.client.get(path, params=owner)).json()
    refused = await capped.client.post(f"{path}/retry", params=owner)
    assert_quota_problem(refused, 429)
    assert 1 <= int(refused.headers["retry-after"]) <= HOUR_S
    after = (await capped.client.get(path, params=owner)).json()
    assert after == before


async def test_the_hourly_quota_is_exact_under_concurrency_and_renews_each_hour(
    redis_client: Any, unique: str
) -> None:
    now = [7 * HOUR_S + 1200.0]  # 20 minutes into an hour
    quota = HourlyReplayQuota(redis_client, f"t{unique}", per_hour=5, clock=lambda: now[0])
    outcomes = await asyncio.gather(
        *(quota.take("usr_a") for _ in range(30)), return_exceptions=True
    )
    spent = [o for o in outcomes if isinstance(o, QuotaSpent)]
    assert len(spent) == 25 and {s.retry_after for s in spent} == {2400}
    await quota.take("usr_b")  # each owner has a quota of its own
    now[0] += 2400  # the next hour
    give_back = await quota.take("usr_a")
    for _ in range(3):
        await quota.take("usr_a")
    await give_back()  # a replay that did not happen gives its unit back
    await quota.take("usr_a")
    await quota.take("usr_a")
    with pytest.raises(QuotaSpent):
        await quota.take("usr_a")
