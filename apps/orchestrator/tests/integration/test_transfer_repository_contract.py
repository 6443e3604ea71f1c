"""One contract for every TransferRepository: the MongoDB adapter and its in-memory twin."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from beanie import init_beanie
from orchestrator_support import POLICY, T0, a_transfer

from payflow_contracts.saga import SagaStep, StepOutcome
from payflow_orchestrator.domain.transfer import apply_reply
from payflow_orchestrator.repository import (
    DuplicateTransfer,
    InMemoryTransferRepository,
    MongoTransferRepository,
    TransferDocument,
    TransferQuery,
    TransferRepository,
)


@pytest.fixture(params=["mongo", "memory"])
async def repository(request: Any, mongo_db: Any) -> AsyncIterator[TransferRepository]:
    if request.param == "memory":
        yield InMemoryTransferRepository()
        return
    await init_beanie(database=mongo_db, document_models=[TransferDocument])
    yield MongoTransferRepository(mongo_db["transfers"])


async def test_a_transfer_is_stored_and_read_back_unchanged(repository: TransferRepository) -> None:
    transfer = a_transfer()
    await repository.add(transfer)
    assert await repository.get("tr_1") == transfer
    assert await repository.find_by_key("usr_a", "key-1") == transfer
    assert await repository.get("tr_nope") is None


async def test_one_idempotency_key_per_initiator_holds_one_transfer(
    repository: TransferRepository,
) -> None:
    await repository.add(a_transfer("tr_1"))
    with pytest.raises(DuplicateTransfer) as caught:
        await repository.add(a_transfer("tr_2"))
    assert caught.value.existing.id == "tr_1"
    await repository.add(a_transfer("tr_3", initiator="usr_other"))  # keys are per initiator


async def test_concurrent_adds_with_one_key_leave_exactly_one_transfer(
    repository: TransferRepository,
) -> None:
    async def add(i: int) -> str:
        try:
            await repository.add(a_transfer(f"tr_{i}"))
            return f"tr_{i}"
        except DuplicateTransfer as duplicate:
            return duplicate.existing.id

    ids = await asyncio.gather(*(add(i) for i in range(20)))
    assert len(set(ids)) == 1


async def test_compare_and_set_applies_once_per_version(repository: TransferRepository) -> None:
    transfer = a_transfer()
    await repository.add(transfer)
    advanced, _ = apply_reply(transfer, SagaStep.DEBIT_SOURCE, StepOutcome.DEBITED, T0, POLICY)
    assert await repository.compare_and_set(advanced, transfer.version)
    assert not await repository.compare_and_set(advanced, transfer.version)
    stored = await repository.get(transfer.id)
    assert stored is not None and stored.state == advanced.state and stored.version == 1


async def test_a_published_event_flag_survives_a_later_compare_and_set(
    repository: TransferRepository,
) -> None:
    transfer = a_transfer()
    await repository.add(transfer)
    await repository.mark_event_published(transfer.id, "created")
    advanced, _ = apply_reply(
        transfer, SagaStep.DEBIT_SOURCE, StepOutcome.INSUFFICIENT_FUNDS, T0, POLICY
    )
    assert await repository.compare_and_set(advanced, transfer.version, ["failed"])
    stored = await repository.get(transfer.id)
    assert stored is not None
    assert stored.events == {"created": "published", "failed": "pending"}
    assert [t.id for t in await repository.with_pending_events(T0 + timedelta(minutes=1), 10)] == [
        transfer.id
    ]


async def test_due_lists_only_active_sagas_past_their_deadline(
    repository: TransferRepository,
) -> None:
    late = a_transfer("tr_late", key="k1")
    fresh = a_transfer("tr_fresh", key="k2", at=T0 + timedelta(minutes=5))
    done = a_transfer("tr_done", key="k3")
    await repository.add(late)
    await repository.add(fresh)
    await repository.add(done)
    finished, _ = apply_reply(
        done, SagaStep.DEBIT_SOURCE, StepOutcome.INSUFFICIENT_FUNDS, T0, POLICY
    )
    await repository.compare_and_set(finished, done.version)
    now = T0 + timedelta(seconds=10)
    assert [t.id for t in await repository.due(now, 10)] == ["tr_late"]
    assert await repository.count_past_deadline(now) == 1
    assert await repository.count_active() == 2


async def test_pages_are_newest_first_and_filtered(repository: TransferRepository) -> None:
    for i in range(7):
        await repository.add(
            a_transfer(
                f"tr_{i}",
                key=f"k{i}",
                at=T0 + timedelta(seconds=i),
                destination="wal_x" if i % 2 else "wal_b",
            )
        )
    seen: list[str] = []
    cursor = None
    while True:
        page, cursor = await repository.page(TransferQuery(owner_id="usr_b"), 3, cursor)
        seen += [t.id for t in page]
        if cursor is None:
            break
    assert seen == [f"tr_{i}" for i in reversed(range(7))]
    odd, _ = await repository.page(TransferQuery(wallet_id="wal_x"), 10, None)
    assert [t.id for t in odd] == ["tr_5", "tr_3", "tr_1"]
    window, _ = await repository.page(
        TransferQuery(created_gte=T0 + timedelta(seconds=2), created_lte=T0 + timedelta(seconds=3)),
        10,
        None,
    )
    assert [t.id for t in window] == ["tr_3", "tr_2"]
    nobody, _ = await repository.page(TransferQuery(owner_id="usr_nobody"), 10, None)
    assert nobody == []
    pending, _ = await repository.page(TransferQuery(states=["debiting_source"]), 10, None)
    assert len(pending) == 7


async def test_a_saga_written_by_compare_and_set_keeps_its_deadline_queryable(
    repository: TransferRepository,
) -> None:
    transfer = a_transfer()
    await repository.add(transfer)
    advanced, _ = apply_reply(transfer, SagaStep.DEBIT_SOURCE, StepOutcome.DEBITED, T0, POLICY)
    assert await repository.compare_and_set(advanced, transfer.version)
    assert await repository.due(T0 + timedelta(seconds=1), 10) == []
    [due] = await repository.due(T0 + POLICY.step_timeout + timedelta(seconds=1), 10)
    assert due == advanced
    assert isinstance(due.step_deadline, type(T0))


async def test_transfers_made_within_one_second_page_without_repeats_or_gaps(
    repository: TransferRepository,
) -> None:
    for i in range(9):
        await repository.add(
            a_transfer(f"tr_{i}", key=f"k{i}", at=T0 + timedelta(milliseconds=7 * i))
        )
    seen: list[str] = []
    cursor = None
    while True:
        page, cursor = await repository.page(TransferQuery(owner_id="usr_a"), 2, cursor)
        seen += [t.id for t in page]
        if cursor is None:
            break
    assert seen == [f"tr_{i}" for i in reversed(range(9))]
    window, _ = await repository.page(
        TransferQuery(
            created_gte=T0 + timedelta(milliseconds=14), created_lte=T0 + timedelta(milliseconds=28)
        ),
        10,
        None,
    )
    assert [t.id for t in window] == ["tr_4", "tr_3", "tr_2"]
