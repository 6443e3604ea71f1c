"""One contract per store, passed by the MongoDB adapter and by its in-memory twin."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from beanie import init_beanie

from payflow_contracts.paging import PagePosition, cut_page, decode_cursor
from payflow_service.quotas import QuotaExceeded
from payflow_webhooks.adapters.memory import (
    InMemoryDeliveryStore,
    InMemoryEndpointStore,
    InMemoryEventStore,
)
from payflow_webhooks.adapters.mongo import (
    DOCUMENT_MODELS,
    MongoDeliveryStore,
    MongoEndpointStore,
    MongoEventStore,
)
from payflow_webhooks.adapters.redis import CachedEndpointStore
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

pytestmark = pytest.mark.integration


def after(cursor: str | None) -> PagePosition | None:
    return decode_cursor(cursor) if cursor else None


async def page_of(found: Awaitable[list[Any]], limit: int) -> tuple[list[Any], str | None]:
    """A store's answer cut into a page and its next cursor, as the routes do."""
    return cut_page(await found, limit, lambda item: item.position)


@pytest.fixture(params=["mongo", "cached", "memory"])
async def kind(request: Any, mongo_db: Any) -> tuple[str, Any]:
    if request.param != "memory":
        await init_beanie(database=mongo_db, document_models=DOCUMENT_MODELS)
    return request.param, mongo_db


@pytest.fixture
def endpoints(kind: tuple[str, Any], redis_client: Any, unique: str) -> Any:
    name, db = kind
    if name == "memory":
        return InMemoryEndpointStore()
    mongo = MongoEndpointStore(db["webhook_endpoints"])
    if name == "mongo":
        return mongo
    # "cached": every contract rule must hold through the memory, which a second instance
    # (another process) shares only through the generation counter.
    return CachedEndpointStore(mongo, redis_client, f"test{unique}:endpoints-generation")


@pytest.fixture
def events(kind: tuple[str, Any]) -> Any:
    name, db = kind
    return MongoEventStore(db["webhook_events"]) if name != "memory" else InMemoryEventStore()


@pytest.fixture
def deliveries(kind: tuple[str, Any]) -> Any:
    name, db = kind
    if name != "memory":
        return MongoDeliveryStore(db["webhook_deliveries"], db["webhook_attempts"])
    return InMemoryDeliveryStore()


def an_endpoint(
    at: datetime,
    endpoint_id: str = "we_1",
    owner: str = "usr_a",
    types: tuple[str, ...] = ("*",),
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
    at: datetime,
    event_id: str = "evt_1",
    owners: tuple[str, ...] = ("usr_a", "usr_b"),
    **kw: Any,
) -> WebhookEvent:
    values: dict[str, Any] = {
        "id": event_id,
        "type": "transfer.completed",
        "transfer_id": "tr_1",
        "owner_ids": owners,
        "data": {"id": "tr_1", "amount": 1250, "currency": "USD", "metadata": {"k": "v"}},
        "created_at": at,
    }
    values.update(kw)
    return WebhookEvent(**values)


def a_delivery(
    event_at: datetime,
    delivery_id: str = "del_1",
    event_id: str = "evt_1",
    endpoint_id: str = "we_1",
    at: datetime | None = None,
) -> Delivery:
    """A delivery of an event created at `event_at`, opened at `at` (by default, then too)."""
    return open_delivery(
        delivery_id=delivery_id,
        event_id=event_id,
        event_type="transfer.completed",
        endpoint_id=endpoint_id,
        owner_id="usr_a",
        event_created_at=event_at,
        traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01",
        now=event_at if at is None else at,
    )


# ---------------------------------------------------------------- endpoints


async def test_an_endpoint_reads_back_unchanged_and_only_for_its_owner(
    endpoints: Any, now: datetime
) -> None:
    endpoint = rotate_secret(an_endpoint(now), now, timedelta(hours=24))
    await endpoints.add(endpoint)
    assert await endpoints.get("we_1") == endpoint
    assert await endpoints.get("we_1", "usr_a") == endpoint
    assert await endpoints.get("we_1", "usr_other") is None
    assert await endpoints.get("we_nope") is None


async def test_an_edit_from_a_stale_read_is_refused(endpoints: Any, now: datetime) -> None:
    endpoint = an_endpoint(now)
    await endpoints.add(endpoint)
    edited = change_endpoint(endpoint, now, description="new")
    assert await endpoints.compare_and_set(edited, endpoint.version)
    assert not await endpoints.compare_and_set(edited, endpoint.version)
    assert (await endpoints.get("we_1")).description == "new"


async def test_a_failure_mark_bumps_the_version_so_a_stale_edit_cannot_erase_it(
    endpoints: Any, now: datetime
) -> None:
    endpoint = an_endpoint(now)
    await endpoints.add(endpoint)
    assert await endpoints.mark_failing("we_1", now)
    assert not await endpoints.mark_failing("we_1", now + timedelta(hours=1))
    stale_edit = change_endpoint(endpoint, now, description="x")
    assert not await endpoints.compare_and_set(stale_edit, endpoint.version)
    stored = await endpoints.get("we_1")
    assert stored.failing_since == now
    assert not await endpoints.clear_failing("we_1", now + timedelta(seconds=1))
    assert await endpoints.clear_failing("we_1", now)
    assert (await endpoints.get("we_1")).failing_since is None


async def test_disabling_happens_once_and_keeps_its_reason(endpoints: Any, now: datetime) -> None:
    await endpoints.add(an_endpoint(now))
    assert await endpoints.disable("we_1", DisabledReason.RECEIVER_GONE, now)
    assert not await endpoints.disable("we_1", DisabledReason.FAILING_TOO_LONG, now)
    stored = await endpoints.get("we_1")
    assert stored.status is EndpointStatus.DISABLED
    assert stored.disabled_reason is DisabledReason.RECEIVER_GONE
    assert not await endpoints.disable("we_nope", DisabledReason.BY_OWNER, now)


async def test_subscribers_are_the_enabled_endpoints_of_the_owners_that_want_the_type(
    endpoints: Any, now: datetime
) -> None:
    await endpoints.add(an_endpoint(now, "we_all", "usr_a", ("*",)))
    await endpoints.add(an_endpoint(now, "we_done", "usr_b", ("transfer.completed",)))
    await endpoints.add(an_endpoint(now, "we_failed", "usr_a", ("transfer.failed",)))
    await endpoints.add(an_endpoint(now, "we_stranger", "usr_c", ("*",)))
    await endpoints.add(an_endpoint(now, "we_off", "usr_a", ("*",)))
    await endpoints.disable("we_off", DisabledReason.BY_OWNER, now)
    found = await endpoints.subscribed(["usr_a", "usr_b"], "transfer.completed")
    assert sorted(e.id for e in found) == ["we_all", "we_done"]


async def test_endpoints_page_newest_first_within_one_second_and_delete_only_for_the_owner(
    endpoints: Any, now: datetime
) -> None:
    # Milliseconds apart (the embedded store compares datetimes by the second), and one tie; all
    # within the second the test starts in.
    second = now.replace(microsecond=0)
    for i in range(5):
        await endpoints.add(an_endpoint(second + timedelta(milliseconds=i), f"we_{i}"))
    await endpoints.add(an_endpoint(second + timedelta(milliseconds=3), "we_3b"))
    seen: list[str] = []
    cursor = None
    while True:
        page, cursor = await page_of(endpoints.page("usr_a", 2, after(cursor)), 2)
        seen += [e.id for e in page]
        if cursor is None:
            break
    assert seen == ["we_4", "we_3b", "we_3", "we_2", "we_1", "we_0"]
    assert not await endpoints.delete("we_1", "usr_other")
    assert await endpoints.delete("we_1", "usr_a")
    assert await endpoints.get("we_1") is None


# ---------------------------------------------------------------- events


async def test_an_event_is_stored_once_and_the_first_copy_wins(events: Any, now: datetime) -> None:
    first = an_event(now)
    assert await events.add(first) == first
    again = await events.add(an_event(now + timedelta(minutes=1)))
    assert again == first
    assert await events.get("evt_1") == first


async def test_an_event_is_visible_only_to_the_owners_it_touches(
    events: Any, now: datetime
) -> None:
    await events.add(an_event(now))
    assert await events.get("evt_1", "usr_b") is not None
    assert await events.get("evt_1", "usr_c") is None
    for i in range(4):
        kind = "transfer.failed" if i % 2 else "transfer.created"
        await events.add(
            an_event(
                now + timedelta(milliseconds=i + 1), f"evt_{i + 2}", owners=("usr_a",), type=kind
            )
        )
    mine, _ = await page_of(events.page("usr_a", None, 10, None), 10)
    assert [e.id for e in mine] == ["evt_5", "evt_4", "evt_3", "evt_2", "evt_1"]
    failed, _ = await page_of(events.page("usr_a", "transfer.failed", 10, None), 10)
    assert [e.id for e in failed] == ["evt_5", "evt_3"]
    first, cursor = await page_of(events.page("usr_a", None, 2, None), 2)
    rest, end = await page_of(events.page("usr_a", None, 10, after(cursor)), 10)
    assert [e.id for e in first + rest] == [e.id for e in mine] and end is None
    assert (await page_of(events.page("usr_b", None, 10, None), 10))[0][0].id == "evt_1"


# ---------------------------------------------------------------- deliveries


async def test_one_delivery_per_event_and_endpoint_even_when_opened_concurrently(
    deliveries: Any, now: datetime
) -> None:
    stored = await asyncio.gather(*(deliveries.add(a_delivery(now, f"del_{i}")) for i in range(10)))
    assert len({d.id for d in stored}) == 1
    assert await deliveries.get(stored[0].id) == stored[0]
    assert await deliveries.get(stored[0].id, "usr_a") == stored[0]
    assert await deliveries.get(stored[0].id, "usr_b") is None
    other = await deliveries.add(a_delivery(now, "del_x", endpoint_id="we_2"))
    assert other.id == "del_x"


async def test_an_events_deliveries_open_in_one_write_and_a_repeat_gets_the_first_ones(
    deliveries: Any, now: datetime
) -> None:
    first = await deliveries.add(a_delivery(now, "del_old", "evt_1", "we_2"))
    opened = await deliveries.add_all(
        [a_delivery(now, f"del_new_{i}", "evt_1", f"we_{i}") for i in (1, 2, 3)]
    )
    assert [d.id for d in opened] == ["del_new_1", first.id, "del_new_3"]
    again = await deliveries.add_all(
        [a_delivery(now, f"del_again_{i}", "evt_1", f"we_{i}") for i in (1, 2, 3)]
    )
    assert [d.id for d in again] == ["del_new_1", first.id, "del_new_3"]
    racing = await asyncio.gather(
        *(
            deliveries.add_all(
                [a_delivery(now, f"del_r{n}_{i}", "evt_2", f"we_{i}") for i in (1, 2)]
            )
            for n in range(8)
        )
    )
    assert len({tuple(d.id for d in answer) for answer in racing}) == 1
    for delivery in opened + racing[0]:
        assert await deliveries.get(delivery.id) == delivery


async def test_a_delivery_changes_once_per_version(deliveries: Any, now: datetime) -> None:
    delivery = await deliveries.add(a_delivery(now))
    again = replay(delivery, now + timedelta(seconds=5))
    assert await deliveries.compare_and_set(again, delivery.version)
    assert not await deliveries.compare_and_set(again, delivery.version)
    assert await deliveries.get("del_1") == again


async def test_the_body_kept_at_opening_outlives_every_change(
    deliveries: Any, now: datetime
) -> None:
    opened = replace(a_delivery(now), body='{"id":"evt_1","amount":1250}')
    await deliveries.add(opened)
    again = replay(opened, now + timedelta(seconds=5))
    assert await deliveries.compare_and_set(again, opened.version)
    stored = await deliveries.get("del_1")
    assert stored is not None and stored.body == '{"id":"evt_1","amount":1250}'


async def test_overdue_lists_pending_deliveries_due_before_the_cut_off(
    deliveries: Any, now: datetime
) -> None:
    late = await deliveries.add(a_delivery(now, "del_late", "evt_1"))
    await deliveries.add(a_delivery(now, "del_fresh", "evt_2", at=now + timedelta(minutes=5)))
    done = await deliveries.add(a_delivery(now, "del_done", "evt_3"))
    await deliveries.compare_and_set(
        replace(done, status=DeliveryStatus.SUCCEEDED, next_attempt_at=None, version=1),
        0,
    )
    assert [d.id for d in await deliveries.overdue(now + timedelta(minutes=1), 10)] == [late.id]


async def test_attempts_are_kept_one_record_each_in_time_order(
    deliveries: Any, now: datetime
) -> None:
    await deliveries.add(a_delivery(now))
    for n, status in enumerate((500, None, 200), start=1):
        await deliveries.record_attempt(
            Attempt(
                id=f"att_{n}",
                delivery_id="del_1",
                number=n,
                at=now + timedelta(seconds=n),
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


def an_attempt(now: datetime, n: int, status: int | None = 200, delivery: str = "del_1") -> Attempt:
    return Attempt(
        id=f"att_{n}",
        delivery_id=delivery,
        number=n,
        at=now + timedelta(seconds=n),
        status_code=status,
        duration_ms=n,
        error=None if status else "ConnectError: refused",
    )


async def test_an_attempt_is_written_with_its_settlement_or_not_at_all(
    deliveries: Any, now: datetime
) -> None:
    """The courier's one write per attempt: the delivery's new state and the attempt together,
    under the version it read; a refused compare-and-set adds no attempt."""
    opened = await deliveries.add(a_delivery(now))
    settled = replace(opened, status=DeliveryStatus.SUCCEEDED, next_attempt_at=None, version=1)
    assert not await deliveries.compare_and_set(settled, 7, an_attempt(now, 1))
    assert (await deliveries.attempts_of(["del_1"]))["del_1"] == []
    assert await deliveries.compare_and_set(settled, 0, an_attempt(now, 1))
    assert (await deliveries.get("del_1")) == settled
    assert [a.id for a in (await deliveries.attempts_of(["del_1"]))["del_1"]] == ["att_1"]
    # A job whose compare-and-set lost still made its attempt: it is added alone, and the
    # delivery's state is left as the winner wrote it.
    await deliveries.record_attempt(an_attempt(now, 2, status=None))
    assert (await deliveries.get("del_1")) == settled
    assert [a.id for a in (await deliveries.attempts_of(["del_1"]))["del_1"]] == ["att_1", "att_2"]
    # An attempt of a delivery that does not exist is not kept anywhere.
    await deliveries.record_attempt(an_attempt(now, 3, delivery="del_none"))
    assert (await deliveries.attempts_of(["del_none"]))["del_none"] == []


async def test_deliveries_of_an_endpoint_page_newest_first_filtered_by_status(
    deliveries: Any, now: datetime
) -> None:
    for i in range(5):
        await deliveries.add(
            a_delivery(now, f"del_{i}", f"evt_{i}", at=now + timedelta(milliseconds=i))
        )
    first = await deliveries.get("del_1")
    await deliveries.compare_and_set(replace(first, status=DeliveryStatus.FAILED, version=1), 0)
    page, cursor = await page_of(deliveries.page("we_1", None, 3, None), 3)
    rest, end = await page_of(deliveries.page("we_1", None, 3, after(cursor)), 3)
    assert [d.id for d in page + rest] == ["del_4", "del_3", "del_2", "del_1", "del_0"]
    assert end is None
    failed, _ = await page_of(deliveries.page("we_1", DeliveryStatus.FAILED, 10, None), 10)
    assert [d.id for d in failed] == ["del_1"]
    assert (await page_of(deliveries.page("we_other", None, 10, None), 10))[0] == []


async def test_an_endpoint_changed_by_one_process_is_seen_at_once_by_another(
    mongo_db: Any, redis_client: Any, unique: str, now: datetime
) -> None:
    await init_beanie(database=mongo_db, document_models=DOCUMENT_MODELS)
    key = f"test{unique}:endpoints-generation"
    service = CachedEndpointStore(
        MongoEndpointStore(mongo_db["webhook_endpoints"]), redis_client, key
    )
    worker = CachedEndpointStore(
        MongoEndpointStore(mongo_db["webhook_endpoints"]), redis_client, key
    )
    assert await worker.subscribed(["usr_a"], "transfer.completed") == []  # remembered
    endpoint = an_endpoint(now)
    await service.add(endpoint)
    assert [e.id for e in await worker.subscribed(["usr_a"], "transfer.completed")] == ["we_1"]
    assert (await worker.get("we_1")) is not None
    assert await service.disable("we_1", DisabledReason.RECEIVER_GONE, now)
    assert await worker.subscribed(["usr_a"], "transfer.completed") == []
    found = await worker.get("we_1")
    assert found is not None and not found.enabled


async def test_an_owner_holds_at_most_the_cap_of_endpoints(endpoints: Any, now: datetime) -> None:
    outcomes = await asyncio.gather(
        *(endpoints.add(an_endpoint(now, f"we_{n}", "usr_q"), cap=2) for n in range(10)),
        return_exceptions=True,
    )
    assert sum(o is None for o in outcomes) == 2
    assert all(isinstance(o, QuotaExceeded) for o in outcomes if o is not None)
    held, _ = await page_of(endpoints.page("usr_q", 100, None), 100)
    assert len(held) == 2
    assert await endpoints.delete(held[0].id, "usr_q")
    await endpoints.add(an_endpoint(now, "we_again", "usr_q"), cap=2)
    assert (await endpoints.get("we_again")).owner_id == "usr_q"
