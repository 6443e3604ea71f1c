"""One contract for every PaymentLinkStore: the MongoDB adapter and its in-memory twin."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from beanie import init_beanie
from orchestrator_support import a_link

from payflow_contracts.paging import InvalidCursor, PagePosition, decode_cursor
from payflow_orchestrator.adapters.memory import InMemoryPaymentLinkStore
from payflow_orchestrator.adapters.mongo import MongoPaymentLinkStore, PaymentLinkDocument
from payflow_orchestrator.domain.reservations import Reservation, Settlement
from payflow_orchestrator.ports import DuplicateLink, PaymentLinkStore


@pytest.fixture(params=["mongo", "memory"])
async def store(request: Any, mongo_db: Any) -> AsyncIterator[PaymentLinkStore]:
    if request.param == "memory":
        yield InMemoryPaymentLinkStore()
        return
    await init_beanie(database=mongo_db, document_models=[PaymentLinkDocument])
    yield MongoPaymentLinkStore(mongo_db["payment_links"])


def after(cursor: str | None) -> PagePosition | None:
    """The position a cursor the store handed out stands for (what the `Cursor` dependency
    gives the route)."""
    return decode_cursor(cursor) if cursor else None


def hold(saga_id: str, amount: int = 1_000) -> Reservation:
    return Reservation(saga_id=saga_id, amount=amount, reserved_at_ms=0, request={"s": saga_id})


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


async def test_a_link_is_stored_once_per_owner_and_key(
    store: PaymentLinkStore, now: datetime
) -> None:
    link = a_link(at=now)
    await store.add(link)
    assert await store.get("pl_1") == link
    with pytest.raises(DuplicateLink) as caught:
        await store.add(a_link("pl_2", at=now))
    assert caught.value.existing.id == "pl_1"
    await store.add(a_link("pl_3", at=now, owner="usr_other"))  # keys are per owner
    assert await store.get("pl_nope") is None


async def test_links_are_listed_newest_first_per_owner_with_cursors(
    store: PaymentLinkStore, now: datetime
) -> None:
    for i in range(5):
        await store.add(a_link(f"pl_{i}", at=now + timedelta(seconds=i), key=f"k{i}"))
    await store.add(a_link("pl_x", at=now, key="x", owner="usr_other"))
    first, cursor = await store.page("usr_m", 2, None)
    second, cursor2 = await store.page("usr_m", 2, after(cursor))
    third, cursor3 = await store.page("usr_m", 2, after(cursor2))
    assert [link.id for link in first + second + third] == ["pl_4", "pl_3", "pl_2", "pl_1", "pl_0"]
    assert cursor3 is None
    with pytest.raises(InvalidCursor):
        await store.page("usr_m", 2, after("not-a-cursor"))


async def test_only_the_owner_deactivates_and_once(store: PaymentLinkStore, now: datetime) -> None:
    await store.add(a_link(at=now))
    assert await store.deactivate("pl_1", "usr_other", now) is None
    later = now + timedelta(seconds=5)
    done = await store.deactivate("pl_1", "usr_m", now)
    assert done is not None and not done.active and done.deactivated_at == now
    again = await store.deactivate("pl_1", "usr_m", later)
    assert again is not None and again.deactivated_at == now
    assert await store.deactivate("pl_nope", "usr_m", now) is None


async def test_a_single_use_link_is_held_for_one_payment_at_a_time_and_paid_once(
    store: PaymentLinkStore, now: datetime
) -> None:
    link = a_link(at=now, single_use=True)
    await store.add(link)
    assert await store.reserve(link, "s1", hold("tr_1"), ms(now), ms(now) + 10)
    assert not await store.reserve(link, "s2", hold("tr_2"), ms(now), ms(now) + 10)
    assert await store.settle("pl_1", "s1", "tr_1", 1_000, Settlement.RELEASED)
    assert await store.reserve(link, "s2", hold("tr_2"), ms(now), ms(now) + 10)
    assert await store.settle("pl_1", "s2", "tr_2", 1_000, Settlement.CONSUMED)
    assert not await store.settle("pl_1", "s2", "tr_2", 1_000, Settlement.CONSUMED)
    assert not await store.reserve(link, "s3", hold("tr_3"), ms(now), ms(now) + 10)
    stored = await store.get("pl_1")
    assert stored is not None
    assert (stored.paid_count, stored.paid_amount, stored.reservations_open) == (1, 1_000, 0)


async def test_twenty_payers_at_once_hold_a_single_use_link_once(
    store: PaymentLinkStore, now: datetime
) -> None:
    link = a_link(at=now, single_use=True)
    await store.add(link)
    won = await asyncio.gather(
        *(store.reserve(link, f"s{i}", hold(f"tr_{i}"), ms(now), ms(now)) for i in range(20))
    )
    assert sum(won) == 1


async def test_a_reusable_link_holds_many_payments_but_each_slot_once(
    store: PaymentLinkStore, now: datetime
) -> None:
    link = a_link(at=now)
    await store.add(link)
    won = await asyncio.gather(
        *(store.reserve(link, f"s{i}", hold(f"tr_{i}"), ms(now), ms(now)) for i in range(10))
    )
    assert all(won)
    assert not await store.reserve(link, "s0", hold("tr_again"), ms(now), ms(now))
    for i in range(10):
        await store.settle("pl_1", f"s{i}", f"tr_{i}", 1_000, Settlement.CONSUMED)
    stored = await store.get("pl_1")
    assert stored is not None and (stored.paid_count, stored.paid_amount) == (10, 10_000)
    assert stored.reservations == {}


async def test_an_expired_or_deactivated_link_is_not_held(
    store: PaymentLinkStore, now: datetime
) -> None:
    expiring = a_link(at=now, expires_at=now + timedelta(minutes=1))
    await store.add(expiring)
    at_expiry = ms(now + timedelta(minutes=1))
    assert not await store.reserve(expiring, "s1", hold("tr_1"), at_expiry, at_expiry)
    assert await store.reserve(expiring, "s1", hold("tr_1"), at_expiry - 1, at_expiry)
    other = a_link("pl_2", at=now, key="k2")
    await store.add(other)
    await store.deactivate("pl_2", "usr_m", now)
    assert not await store.reserve(other, "s1", hold("tr_2"), ms(now), ms(now))


async def test_links_with_payments_in_flight_are_due_until_settled(
    store: PaymentLinkStore, now: datetime
) -> None:
    link = a_link(at=now)
    await store.add(link)
    await store.reserve(link, "s1", hold("tr_1"), ms(now), 5_000)
    assert await store.due(4_999, 10) == []
    assert await store.due(5_000, 10) == [("pl_1", {"s1": hold("tr_1")})]
    await store.settle("pl_1", "s1", "tr_1", 1_000, Settlement.RELEASED)
    assert await store.due(10**15, 10) == []
