"""One contract for every TransferRepository: the MongoDB adapter and its in-memory twin."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from beanie import init_beanie
from orchestrator_support import POLICY, a_transfer

from payflow_contracts.paging import PagePosition, decode_cursor
from payflow_contracts.saga import SagaStep, StepOutcome
from payflow_orchestrator.adapters.memory import InMemoryTransferRepository
from payflow_orchestrator.adapters.mongo import MongoTransferRepository, TransferDocument
from payflow_orchestrator.domain.transfer import apply_reply
from payflow_orchestrator.ports import DuplicateTransfer, TransferQuery, TransferRepository


def after(cursor: str | None) -> PagePosition | None:
    """The position a cursor the repository handed out stands for (the `Cursor` dependency)."""
    return decode_cursor(cursor) if cursor else None


@pytest.fixture(params=["mongo", "memory"])
async def repository(request: Any, mongo_db: Any) -> AsyncIterator[TransferRepository]:
    if request.param == "memory":
        yield InMemoryTransferRepository()
        return
    await init_beanie(database=mongo_db, document_models=[TransferDocument])
    yield MongoTransferRepository(mongo_db["transfers"])


async def test_a_transfer_is_stored_and_read_back_unchanged(
    repository: TransferRepository, now: datetime
) -> None:
    transfer = a_transfer(at=now)
    await repository.add(transfer)
    assert await repository.get("tr_1") == transfer
    assert await repository.find_by_key("usr_a", "key-1") == transfer
    assert await repository.get("tr_nope") is None


async def test_one_idempotency_key_per_initiator_holds_one_transfer(
    repository: TransferRepository, now: datetime
) -> None:
    await repository.add(a_transfer("tr_1", at=now))
    with pytest.raises(DuplicateTransfer) as caught:
        await repository.add(a_transfer("tr_2", at=now))
    assert caught.value.existing.id == "tr_1"
    await repository.add(a_transfer("tr_3", at=now, initiator="usr_other"))  # keys: per initiator


async def test_concurrent_adds_with_one_key_leave_exactly_one_transfer(
    repository: TransferRepository, now: datetime
) -> None:
    async def add(i: int) -> str:
        try:
            await repository.add(a_transfer(f"tr_{i}", at=now))
            return f"tr_{i}"
        except DuplicateTransfer as duplicate:
            return duplicate.existing.id

    ids = await asyncio.gather(*(add(i) for i in range(20)))
    assert len(set(ids)) == 1


async def test_compare_and_set_applies_once_per_version(
    repository: TransferRepository, now: datetime
) -> None:
    transfer = a_transfer(at=now)
    await repository.add(transfer)
    advanced, _ = apply_reply(transfer, SagaStep.DEBIT_SOURCE, StepOutcome.DEBITED, now, POLICY)
    assert await repository.compare_and_set(advanced, transfer.version)
    assert not await repository.compare_and_set(advanced, transfer.version)
    stored = await repository.get(transfer.id)
    assert stored is not None and stored.state == advanced.state and stored.version == 1


async def test_a_published_event_flag_survives_a_later_compare_and_set(
    repository: TransferRepository, now: datetime
) -> None:
    transfer = a_transfer(at=now)
    await repository.add(transfer)
    await repository.mark_event_published(transfer.id, "created")
    advanced, _ = apply_reply(
        transfer, SagaStep.DEBIT_SOURCE, StepOutcome.INSUFFICIENT_FUNDS, now, POLICY
    )
    assert await repository.compare_and_set(advanced, transfer.version, ["failed"])
    stored = await repository.get(transfer.id)
    assert stored is not None
    assert stored.events == {"created": "published", "failed": "pending"}
    assert [t.id for t in await repository.with_pending_events(now + timedelta(minutes=1), 10)] == [
        transfer.id
    ]


async def test_a_saga_owing_an_event_is_found_until_its_flag_is_published_and_never_after(
    repository: TransferRepository, now: datetime
) -> None:
    owing = a_transfer("tr_owing", key="k1", at=now)
    settled = a_transfer("tr_settled", key="k2", at=now)
    await repository.add(owing)
    await repository.add(settled)
    await repository.mark_events_published([(settled.id, "created")])
    later = now + timedelta(minutes=1)
    assert [t.id for t in await repository.with_pending_events(later, 10)] == ["tr_owing"]
    await repository.mark_events_published([(owing.id, "created")])
    assert await repository.with_pending_events(later, 10) == []
    assert await repository.with_pending_events(later, 10) == []  # markers were cleared
    # Owing again after a transition (a terminal event): found again.
    finished, _ = apply_reply(
        owing, SagaStep.DEBIT_SOURCE, StepOutcome.INSUFFICIENT_FUNDS, later, POLICY
    )
    stored = await repository.get(owing.id)
    assert stored is not None
    assert await repository.compare_and_set(finished, stored.version, ["failed"])
    found = await repository.with_pending_events(later + timedelta(minutes=1), 10)
    assert [t.id for t in found] == ["tr_owing"]
    assert found[0].pending_events() == ["failed"]


async def test_due_lists_only_active_sagas_past_their_deadline(
    repository: TransferRepository, now: datetime
) -> None:
    late = a_transfer("tr_late", key="k1", at=now)
    fresh = a_transfer("tr_fresh", key="k2", at=now + timedelta(minutes=5))
    done = a_transfer("tr_done", key="k3", at=now)
    await repository.add(late)
    await repository.add(fresh)
    await repository.add(done)
    finished, _ = apply_reply(
        done, SagaStep.DEBIT_SOURCE, StepOutcome.INSUFFICIENT_FUNDS, now, POLICY
    )
    await repository.compare_and_set(finished, done.version)
    later = now + timedelta(seconds=10)
    assert [t.id for t in await repository.due(later, 10)] == ["tr_late"]
    assert await repository.count_past_deadline(later) == 1
    assert await repository.count_active() == 2


async def test_pages_are_newest_first_and_filtered(
    repository: TransferRepository, now: datetime
) -> None:
    for i in range(7):
        await repository.add(
            a_transfer(
                f"tr_{i}",
                key=f"k{i}",
                at=now + timedelta(seconds=i),
                destination="wal_x" if i % 2 else "wal_b",
            )
        )
    seen: list[str] = []
    cursor = None
    while True:
        page, cursor = await repository.page(TransferQuery(owner_id="usr_b"), 3, after(cursor))
        seen += [t.id for t in page]
        if cursor is None:
            break
    assert seen == [f"tr_{i}" for i in reversed(range(7))]
    odd, _ = await repository.page(TransferQuery(wallet_id="wal_x"), 10, None)
    assert [t.id for t in odd] == ["tr_5", "tr_3", "tr_1"]
    window, _ = await repository.page(
        TransferQuery(
            created_gte=now + timedelta(seconds=2), created_lte=now + timedelta(seconds=3)
        ),
        10,
        None,
    )
    assert [t.id for t in window] == ["tr_3", "tr_2"]
    nobody, _ = await repository.page(TransferQuery(owner_id="usr_nobody"), 10, None)
    assert nobody == []
    pending, _ = await repository.page(TransferQuery(states=["debiting_source"]), 10, None)
    assert len(pending) == 7


async def test_a_saga_written_by_compare_and_set_keeps_its_deadline_queryable(
    repository: TransferRepository, now: datetime
) -> None:
    transfer = a_transfer(at=now)
    await repository.add(transfer)
    advanced, _ = apply_reply(transfer, SagaStep.DEBIT_SOURCE, StepOutcome.DEBITED, now, POLICY)
    assert await repository.compare_and_set(advanced, transfer.version)
    assert await repository.due(now + timedelta(seconds=1), 10) == []
    [due] = await repository.due(now + POLICY.step_timeout + timedelta(seconds=1), 10)
    assert due == advanced
    assert isinstance(due.step_deadline, datetime)


async def test_transfers_made_within_one_second_page_without_repeats_or_gaps(
    repository: TransferRepository, now: datetime
) -> None:
    second = now.replace(microsecond=0)  # 0 to 56 ms into one second
    for i in range(9):
        await repository.add(
            a_transfer(f"tr_{i}", key=f"k{i}", at=second + timedelta(milliseconds=7 * i))
        )
    seen: list[str] = []
    cursor = None
    while True:
        page, cursor = await repository.page(TransferQuery(owner_id="usr_a"), 2, after(cursor))
        seen += [t.id for t in page]
        if cursor is None:
            break
    assert seen == [f"tr_{i}" for i in reversed(range(9))]
    window, _ = await repository.page(
        TransferQuery(
            created_gte=second + timedelta(milliseconds=14),
            created_lte=second + timedelta(milliseconds=28),
        ),
        10,
        None,
    )
    assert [t.id for t in window] == ["tr_4", "tr_3", "tr_2"]
