"""The stored documents of the webhooks collections: field names and order, and older documents
(written before some fields existed) reading back with the domain's defaults."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from beanie import init_beanie

from payflow_webhooks.adapters.mongo import (
    DOCUMENT_MODELS,
    MongoDeliveryStore,
    MongoEndpointStore,
    MongoEventStore,
)
from payflow_webhooks.domain.delivery import Attempt, DeliveryStatus, open_delivery
from payflow_webhooks.domain.endpoint import (
    EndpointStatus,
    RetiredSecret,
    open_endpoint,
    rotate_secret,
)
from payflow_webhooks.domain.event import WebhookEvent

pytestmark = pytest.mark.integration


@pytest.fixture
async def db(mongo_db: Any) -> Any:
    await init_beanie(database=mongo_db, document_models=DOCUMENT_MODELS)
    return mongo_db


async def test_the_documents_keep_their_fields_in_order(db: Any, now: datetime) -> None:
    endpoint = rotate_secret(
        open_endpoint(
            endpoint_id="we_1",
            owner_id="usr_a",
            url="https://hooks.example.com/",
            event_types=["transfer.failed", "transfer.created"],
            description=None,
            now=now,
        ),
        now,
        timedelta(hours=1),
    )
    await MongoEndpointStore(db["webhook_endpoints"]).add(endpoint, cap=5)
    event = WebhookEvent(
        id="evt_1",
        type="transfer.completed",
        transfer_id="tr_1",
        owner_ids=("usr_a",),
        data={"id": "tr_1", "amount": 1250},
        created_at=now,
    )
    await MongoEventStore(db["webhook_events"]).add(event)
    deliveries = MongoDeliveryStore(db["webhook_deliveries"], db["webhook_attempts"])
    delivery = open_delivery(
        delivery_id="del_1",
        event_id="evt_1",
        event_type="transfer.completed",
        endpoint_id="we_1",
        owner_id="usr_a",
        event_created_at=now,
        traceparent=None,
        now=now,
        body="{}",
    )
    await deliveries.add(delivery)
    await deliveries.record_attempt(
        Attempt(
            id="att_1",
            delivery_id="del_1",
            number=1,
            at=now,
            status_code=500,
            duration_ms=3,
            error=None,
        )
    )

    stored = await db["webhook_endpoints"].find_one({"_id": "we_1"})
    assert list(stored) == [
        "_id", "owner_id", "url", "description", "event_types", "status", "disabled_reason",
        "secret", "retired_secrets", "failing_since", "created_at", "updated_at", "version",
        "position", "quota_slot",
    ]  # fmt: skip
    assert stored["event_types"] == ["transfer.created", "transfer.failed"]
    assert stored["status"] == "enabled"
    assert list(stored["retired_secrets"][0]) == ["secret", "expires_at"]
    stored = await db["webhook_events"].find_one({"_id": "evt_1"})
    assert list(stored) == [
        "_id", "type", "transfer_id", "owner_ids", "data", "created_at", "position",
    ]  # fmt: skip
    stored = await db["webhook_deliveries"].find_one({"_id": "del_1"})
    assert list(stored) == [
        "_id", "event_id", "event_type", "endpoint_id", "owner_id", "status", "attempt_count",
        "round_failures", "next_attempt_at", "last_error", "event_created_at", "traceparent",
        "created_at", "updated_at", "succeeded_at", "version", "body", "position", "due_at_ms",
        "attempts",
    ]  # fmt: skip
    assert stored["status"] == "pending"
    assert list(stored["attempts"][0]) == [
        "_id", "number", "at", "status_code", "duration_ms", "error", "response_body",
    ]  # fmt: skip
    assert stored["attempts"][0]["at"] == now  # a date inside the array, not a string
    assert await db["webhook_attempts"].count_documents({}) == 0


async def test_attempts_stored_before_they_moved_into_their_delivery_are_still_read(
    db: Any, now: datetime
) -> None:
    deliveries = MongoDeliveryStore(db["webhook_deliveries"], db["webhook_attempts"])
    delivery = open_delivery(
        delivery_id="del_1",
        event_id="evt_1",
        event_type="transfer.completed",
        endpoint_id="we_1",
        owner_id="usr_a",
        event_created_at=now,
        traceparent=None,
        now=now,
        body="{}",
    )
    await deliveries.add(delivery)
    await db["webhook_attempts"].insert_one(
        {
            "_id": "att_old",
            "delivery_id": "del_1",
            "number": 1,
            "at": now,
            "status_code": 500,
            "duration_ms": 3,
            "error": None,
            "response_body": "down",
        }
    )
    later = Attempt(
        id="att_new",
        delivery_id="del_1",
        number=2,
        at=now + timedelta(seconds=30),
        status_code=200,
        duration_ms=4,
        error=None,
    )
    assert await deliveries.compare_and_set(replace(delivery, version=1), 0, later)
    attempts = (await deliveries.attempts_of(["del_1"]))["del_1"]
    assert [(a.id, a.number, a.status_code, a.delivery_id) for a in attempts] == [
        ("att_old", 1, 500, "del_1"),
        ("att_new", 2, 200, "del_1"),
    ]


async def test_an_older_document_reads_back_with_the_defaults(db: Any, now: datetime) -> None:
    await db["webhook_endpoints"].insert_one(
        {
            "_id": "we_old",
            "owner_id": "usr_a",
            "url": "https://hooks.example.com/",
            "event_types": ["*"],
            "secret": "whsec_x",
            "retired_secrets": [{"secret": "whsec_y", "expires_at": now}],
            "created_at": now,
            "updated_at": now,
        }
    )
    await db["webhook_deliveries"].insert_one(
        {
            "_id": "del_old",
            "event_id": "evt_1",
            "event_type": "transfer.completed",
            "endpoint_id": "we_old",
            "owner_id": "usr_a",
            "next_attempt_at": now,
            "event_created_at": now,
            "created_at": now,
            "updated_at": now,
        }
    )
    endpoint = await MongoEndpointStore(db["webhook_endpoints"]).get("we_old")
    assert endpoint is not None
    assert endpoint.status is EndpointStatus.ENABLED and endpoint.description is None
    assert endpoint.event_types == ("*",) and endpoint.version == 0
    assert endpoint.retired_secrets == (RetiredSecret(secret="whsec_y", expires_at=now),)
    assert endpoint.failing_since is None and endpoint.disabled_reason is None
    delivery = await MongoDeliveryStore(db["webhook_deliveries"], db["webhook_attempts"]).get(
        "del_old"
    )
    assert delivery is not None
    assert delivery.status is DeliveryStatus.PENDING
    assert (delivery.attempt_count, delivery.round_failures, delivery.version) == (0, 0, 0)
    assert delivery.body is None and delivery.traceparent is None and delivery.last_error is None
    assert delivery.next_attempt_at == now
