"""One contract per store, passed by the MongoDB adapter and by its in-memory twin."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from beanie import init_beanie

from payflow_webhooks.delivery_store import InMemoryDeliveryStore, MongoDeliveryStore
from payflow_webhooks.domain.delivery import (
    Attempt,
    Delivery,
    DeliveryStatus,
    open_delivery,
    replay,
)
from payflow_webhooks.domain.endpoint import (
    DisabledReason,
    EndpointStatus,
    WebhookEndpoint,
    change_endpoint,
    open_endpoint,
    rotate_secret,
)
from payflow_webhooks.domain.event import WebhookEvent
from payflow_webhooks.endpoint_store import InMemoryEndpointStore, MongoEndpointStore
from payflow_webhooks.event_store import InMemoryEventStore, MongoEventStore
from payflow_webhooks.stores import DOCUMENT_MODELS

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["mongo", "memory"])
async def kind(request: Any, mongo_db: Any) -> tuple[str, Any]:
    if request.param == "mongo":
        await init_beanie(database=mongo_db, document_models=DOCUMENT_MODELS)
    return request.param, mongo_db


@pytest.fixture
def endpoints(kind: tuple[str, Any]) -> Any:
    name, db = kind
    return (
        MongoEndpointStore(db["webhook_endpoints"]) if name == "mongo" else InMemoryEndpointStore()
    )


@pytest.fixture
def events(kind: tuple[str, Any]) -> Any:
    name, db = kind
    return MongoEventStore(db["webhook_events"]) if name == "mongo" else InMemoryEventStore()


@pytest.fixture
def deliveries(kind: tuple[str, Any]) -> Any:
    name, db = kind
    if name == "mongo":
        return MongoDeliveryStore(db["webhook_deliveries"], db["webhook_attempts"])
    return InMemoryDeliveryStore()


def an_endpoint(
    endpoint_id: str = "we_1",
    owner: str = "usr_a",
    types: tuple[str, ...] = ("*",),
    at: datetime = T0,
) -> WebhookEndpoint:
    return open_endpoint(
        endpoint_id=endpoint_id,
        owner_id=owner,
        url="https://hooks.example.com/",
        event_types=types,
        description="ops",
        now=at,
    )


def an_event(
    event_id: str = "evt_1", owners: tuple[str, ...] = ("usr_a", "usr_b"), **kw: Any
) -> WebhookEvent:
    values: dict[str, Any] = {
        "id": event_id,
        "type": "transfer.completed",
        "transfer_id": "tr_1",
        "owner_ids": owners,
        "data": {"id": "tr_1", "amount": 1250, "currency": "USD", "metadata": {"k": "v"}},
        "created_at": T0,
    }
    values.update(kw)
    return WebhookEvent(**values)


def a_delivery(
    delivery_id: str = "del_1",
    event_id: str = "evt_1",
    endpoint_id: str = "we_1",
    at: datetime = T0,
) -> Delivery:
    return open_delivery(
        delivery_id=delivery_id,
        event_id=event_id,
        event_type="transfer.completed",
        endpoint_id=endpoint_id,
        owner_id="usr_a",
        event_created_at=T0,
        traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01",
        now=at,
    )


# ---------------------------------------------------------------- endpoints


async def test_an_endpoint_reads_back_unchanged_and_only_for_its_owner(endpoints: Any) -> None:
    endpoint = rotate_secret(an_endpoint(), T0, timedelta(hours=24))
    await endpoints.add(endpoint)
    assert await endpoints.get("we_1") == endpoint
    assert await endpoints.get("we_1", "usr_a") == endpoint
    assert await endpoints.get("we_1", "usr_other") is None
    assert await endpoints.get("we_nope") is None


async def test_an_edit_from_a_stale_read_is_refused(endpoints: Any) -> None:
    endpoint = an_endpoint()
    await endpoints.add(endpoint)
    edited = change_endpoint(endpoint, T0, description="new")
    assert await endpoints.compare_and_set(edited, endpoint.version)
    assert not await endpoints.compare_and_set(edited, endpoint.version)
    assert (await endpoints.get("we_1")).description == "new"


async def test_a_failure_mark_bumps_the_version_so_a_stale_edit_cannot_erase_it(
    endpoints: Any,
) -> None:
    endpoint = an_endpoint()
    await endpoints.add(endpoint)
    assert await endpoints.mark_failing("we_1", T0)
    assert not await endpoints.mark_failing("we_1", T0 + timedelta(hours=1))
    stale_edit = change_endpoint(endpoint, T0, description="x")
    assert not await endpoints.compare_and_set(stale_edit, endpoint.version)
    stored = await endpoints.get("we_1")
    assert stored.failing_since == T0
    assert not await endpoints.clear_failing("we_1", T0 + timedelta(seconds=1))
    assert await endpoints.clear_failing("we_1", T0)
    assert (await endpoints.get("we_1")).failing_since is None


async def test_disabling_happens_once_and_keeps_its_reason(endpoints: Any) -> None:
    await endpoints.add(an_endpoint())
    assert await endpoints.disable("we_1", DisabledReason.RECEIVER_GONE, T0)
    assert not await endpoints.disable("we_1", DisabledReason.FAILING_TOO_LONG, T0)
    stored = await endpoints.get("we_1")
    assert stored.status is EndpointStatus.DISABLED
    assert stored.disabled_reason is DisabledReason.RECEIVER_GONE
    assert not await endpoints.disable("we_nope", DisabledReason.BY_OWNER, T0)


async def test_subscribers_are_the_enabled_endpoints_of_the_owners_that_want_the_type(
    endpoints: Any,
) -> None:
    await endpoints.add(an_endpoint("we_all", "usr_a", ("*",)))
    await endpoints.add(an_endpoint("we_done", "usr_b", ("transfer.completed",)))
    await endpoints.add(an_endpoint("we_failed", "usr_a", ("transfer.failed",)))
    await endpoints.add(an_endpoint("we_stranger", "usr_c", ("*",)))
    await endpoints.add(an_endpoint("we_off", "usr_a", ("*",)))
    await endpoints.disable("we_off", DisabledReason.BY_OWNER, T0)
    found = await endpoints.subscribed(["usr_a", "usr_b"], "transfer.completed")
    assert sorted(e.id for e in found) == ["we_all", "we_done"]


async def test_endpoints_page_newest_first_within_one_second_and_delete_only_for_the_owner(
    endpoints: Any,
) -> None:
    # Milliseconds apart (the embedded store compares datetimes by the second), and one tie.
    for i in range(5):
        await endpoints.add(an_endpoint(f"we_{i}", at=T0 + timedelta(milliseconds=i)))
    await endpoints.add(an_endpoint("we_3b", at=T0 + timedelta(milliseconds=3)))
    seen: list[str] = []
    cursor = None
    while True:
        page, cursor = await endpoints.page("usr_a", 2, cursor)
        seen += [e.id for e in page]
        if cursor is None:
            break
    assert seen == ["we_4", "we_3b", "we_3", "we_2", "we_1", "we_0"]
    assert not await endpoints.delete("we_1", "usr_other")
    assert await endpoints.delete("we_1", "usr_a")
    assert await endpoints.get("we_1") is None


# ---------------------------------------------------------------- events


async def test_an_event_is_stored_once_and_the_first_copy_wins(events: Any) -> None:
    first = an_event()
    assert await events.add(first) == first
    again = await events.add(an_event(created_at=T0 + timedelta(minutes=1)))
    assert again == first
    assert await events.get("evt_1") == first


async def test_an_event_is_visible_only_to_the_owners_it_touches(events: Any) -> None:
    await events.add(an_event())
    assert await events.get("evt_1", "usr_b") is not None
    assert await events.get("evt_1", "usr_c") is None
    for i in range(4):
        kind = "transfer.failed" if i % 2 else "transfer.created"
        await events.add(
            an_event(
                f"evt_{i + 2}",
                owners=("usr_a",),
                type=kind,
                created_at=T0 + timedelta(milliseconds=i + 1),
            )
        )
    mine, _ = await events.page("usr_a", None, 10, None)
    assert [e.id for e in mine] == ["evt_5", "evt_4", "evt_3", "evt_2", "evt_1"]
    failed, _ = await events.page("usr_a", "transfer.failed", 10, None)
    assert [e.id for e in failed] == ["evt_5", "evt_3"]
    first, cursor = await events.page("usr_a", None, 2, None)
    rest, end = await events.page("usr_a", None, 10, cursor)
    assert [e.id for e in first + rest] == [e.id for e in mine] and end is None
    assert (await events.page("usr_b", None, 10, None))[0][0].id == "evt_1"


# ---------------------------------------------------------------- deliveries


async def test_one_delivery_per_event_and_endpoint_even_when_opened_concurrently(
    deliveries: Any,
) -> None:
    stored = await asyncio.gather(*(deliveries.add(a_delivery(f"del_{i}")) for i in range(10)))
    assert len({d.id for d in stored}) == 1
    assert await deliveries.get(stored[0].id) == stored[0]
    assert await deliveries.get(stored[0].id, "usr_a") == stored[0]
    assert await deliveries.get(stored[0].id, "usr_b") is None
    other = await deliveries.add(a_delivery("del_x", endpoint_id="we_2"))
    assert other.id == "del_x"


async def test_a_delivery_changes_once_per_version(deliveries: Any) -> None:
    delivery = await deliveries.add(a_delivery())
    again = replay(delivery, T0 + timedelta(seconds=5))
    assert await deliveries.compare_and_set(again, delivery.version)
    assert not await deliveries.compare_and_set(again, delivery.version)
    assert await deliveries.get("del_1") == again


async def test_overdue_lists_pending_deliveries_due_before_the_cut_off(deliveries: Any) -> None:
    late = await deliveries.add(a_delivery("del_late", "evt_1"))
    await deliveries.add(a_delivery("del_fresh", "evt_2", at=T0 + timedelta(minutes=5)))
    done = await deliveries.add(a_delivery("del_done", "evt_3"))
    await deliveries.compare_and_set(
        done.model_copy(
            update={"status": DeliveryStatus.SUCCEEDED, "next_attempt_at": None, "version": 1}
        ),
        0,
    )
    assert [d.id for d in await deliveries.overdue(T0 + timedelta(minutes=1), 10)] == [late.id]


async def test_attempts_are_kept_one_record_each_in_time_order(deliveries: Any) -> None:
    await deliveries.add(a_delivery())
    for n, status in enumerate((500, None, 200), start=1):
        await deliveries.record_attempt(
            Attempt(
                id=f"att_{n}",
                delivery_id="del_1",
                number=n,
                at=T0 + timedelta(seconds=n),
                status_code=status,
                duration_ms=10 * n,
                error=None if status else "ConnectError: refused",
                response_body="é" * 10 if status else None,
            )
        )
    attempts = await deliveries.attempts_of(["del_1", "del_none"])
    assert [(a.number, a.status_code) for a in attempts["del_1"]] == [(1, 500), (2, None), (3, 200)]
    assert attempts["del_1"][1].error == "ConnectError: refused"
    assert attempts["del_none"] == []


async def test_deliveries_of_an_endpoint_page_newest_first_filtered_by_status(
    deliveries: Any,
) -> None:
    for i in range(5):
        await deliveries.add(a_delivery(f"del_{i}", f"evt_{i}", at=T0 + timedelta(milliseconds=i)))
    first = await deliveries.get("del_1")
    await deliveries.compare_and_set(
        first.model_copy(update={"status": DeliveryStatus.FAILED, "version": 1}), 0
    )
    page, cursor = await deliveries.page("we_1", None, 3, None)
    rest, end = await deliveries.page("we_1", None, 3, cursor)
    assert [d.id for d in page + rest] == ["del_4", "del_3", "del_2", "del_1", "del_0"]
    assert end is None
    failed, _ = await deliveries.page("we_1", DeliveryStatus.FAILED, 10, None)
    assert [d.id for d in failed] == ["del_1"]
    assert (await deliveries.page("we_other", None, 10, None))[0] == []
