"""One contract for the ledger storage ports, run on the MongoDB adapters and their twins."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from beanie import init_beanie

from payflow_contracts.paging import PagePosition
from payflow_contracts.saga import SagaStep
from payflow_ledger.adapters.memory import InMemoryAccountStore, InMemoryJournal
from payflow_ledger.adapters.mongo import (
    AccountDocument,
    JournalDocument,
    MongoAccountStore,
    MongoJournal,
)
from payflow_ledger.domain.journal import Account, top_up_transaction, transfer_transaction
from payflow_ledger.domain.postings import LedgerRecord, LedgerVerdict, position_of
from payflow_ledger.ports import AccountStore, Journal

pytestmark = pytest.mark.integration


@pytest.fixture(params=["mongo", "memory"])
async def ports(request: Any, mongo_db: Any) -> AsyncIterator[tuple[AccountStore, Journal]]:
    if request.param == "memory":
        yield InMemoryAccountStore(), InMemoryJournal()
        return
    await init_beanie(database=mongo_db, document_models=[AccountDocument, JournalDocument])
    yield MongoAccountStore(), MongoJournal()


@pytest.fixture
def accounts(ports: tuple[AccountStore, Journal]) -> AccountStore:
    return ports[0]


@pytest.fixture
def journal(ports: tuple[AccountStore, Journal]) -> Journal:
    return ports[1]


def posted(saga: str, source: str, destination: str, amount: int, at: datetime) -> LedgerRecord:
    return LedgerRecord(
        f"{saga}:post_transfer",
        saga,
        SagaStep.POST_TRANSFER,
        LedgerVerdict.POSTED,
        at,
        transfer_transaction(f"jtx_{saga}", source, destination, amount, "USD"),
    )


def refused(
    saga: str, at: datetime, verdict: LedgerVerdict = LedgerVerdict.CANCELLED
) -> LedgerRecord:
    return LedgerRecord(f"{saga}:post_transfer", saga, SagaStep.POST_TRANSFER, verdict, at)


async def test_an_account_is_opened_once_in_the_currency_of_whoever_came_first(
    accounts: AccountStore, now: datetime
) -> None:
    first = Account("wal_a", "USD", now)
    assert await accounts.open(first) == first
    assert await accounts.open(Account("wal_a", "EUR", now + timedelta(seconds=1))) == first
    assert await accounts.get("wal_a") == first
    assert await accounts.get("wal_nope") is None
    opened = await asyncio.gather(
        *(accounts.open(Account("wal_b", c, now)) for c in ["USD", "EUR"] * 10)
    )
    assert len({a.currency for a in opened}) == 1
    assert sorted([a.id async for a in accounts.all()]) == ["wal_a", "wal_b"]


async def test_a_decision_is_stored_once_and_read_back_unchanged(
    journal: Journal, now: datetime
) -> None:
    record = posted("tr_1", "wal_a", "wal_b", 100, now)
    assert await journal.record(record) == record
    stored = await journal.get("tr_1:post_transfer")
    assert stored == record and stored is not None
    assert stored.transaction == record.transaction and stored.recorded_at == now
    tombstone = refused("tr_2", now)
    assert await journal.record(tombstone) == tombstone
    assert await journal.get("tr_2:post_transfer") == tombstone
    assert await journal.get("tr_nope:post_transfer") is None


async def test_concurrent_decisions_of_one_step_agree_on_the_first(
    journal: Journal, now: datetime
) -> None:
    candidates = [posted("tr_1", "wal_a", "wal_b", 100, now), refused("tr_1", now)] * 10
    stored = await asyncio.gather(*(journal.record(c) for c in candidates))
    assert len({s.verdict for s in stored}) == 1
    assert await journal.get("tr_1:post_transfer") == stored[0]


async def test_transactions_are_listed_per_account_and_in_full(
    journal: Journal, now: datetime
) -> None:
    await journal.record(posted("tr_1", "wal_a", "wal_b", 100, now))
    await journal.record(posted("tr_2", "wal_b", "wal_c", 40, now))
    await journal.record(refused("tr_3", now))
    await journal.record(
        LedgerRecord(
            "tr_4:post_top_up",
            "tr_4",
            SagaStep.POST_TOP_UP,
            LedgerVerdict.POSTED,
            now,
            top_up_transaction("jtx_tr_4", "wal_a", 7, "USD"),
        )
    )
    assert sorted([t.id async for t in journal.transactions()]) == [
        "jtx_tr_1",
        "jtx_tr_2",
        "jtx_tr_4",
    ]
    assert sorted([t.id async for t in journal.transactions("wal_b")]) == ["jtx_tr_1", "jtx_tr_2"]
    assert [t.id async for t in journal.transactions("funding:USD")] == ["jtx_tr_4"]
    assert [t.id async for t in journal.transactions("wal_nope")] == []


async def test_an_account_statement_pages_newest_first_without_gaps(
    journal: Journal, now: datetime
) -> None:
    # Several transactions share a millisecond: the transaction id breaks the tie.
    for i in range(7):
        await journal.record(
            posted(f"tr_{i}", "wal_a", f"wal_{i}", 10 + i, now + timedelta(milliseconds=i // 3))
        )
    await journal.record(refused("tr_x", now))
    seen: list[str] = []
    before: PagePosition | None = None
    while True:
        page = await journal.page_for_account("wal_a", 3, before)
        seen += [r.saga_id for r in page]
        if len(page) < 3:
            break
        before = position_of(page[-1])
    assert seen == [f"tr_{i}" for i in (6, 5, 4, 3, 2, 1, 0)]
    assert [r.saga_id for r in await journal.page_for_account("wal_4", 10, None)] == ["tr_4"]


async def test_a_statement_reads_oldest_first_between_bounds_with_its_opening_balance(
    journal: Journal, now: datetime
) -> None:
    """Five postings a second apart, two in the same millisecond as the third: a window of
    [t1, t4) holds t1, t2, t2', t3 and opens with the balance of t0."""
    at = [now + timedelta(seconds=i) for i in range(5)]
    await journal.record(posted("tr_0", "wal_x", "wal_s", 100, at[0]))
    await journal.record(posted("tr_1", "wal_s", "wal_y", 30, at[1]))
    await journal.record(posted("tr_2", "wal_x", "wal_s", 5, at[2]))
    await journal.record(posted("tr_2b", "wal_x", "wal_s", 7, at[2]))
    await journal.record(posted("tr_3", "wal_s", "wal_y", 1, at[3]))
    await journal.record(posted("tr_4", "wal_x", "wal_s", 1_000, at[4]))
    start, until = PagePosition(at[1], ""), PagePosition(at[4], "")
    assert await journal.balance_before("wal_s", start) == 100
    assert await journal.balance_before("wal_s", until) == 100 - 30 + 5 + 7 - 1
    first = await journal.page_for_account_ascending("wal_s", 2, start, until)
    rest = await journal.page_for_account_ascending("wal_s", 10, position_of(first[-1]), until)
    sagas = [r.saga_id for r in first + rest]
    assert sagas[0] == "tr_1" and sagas[-1] == "tr_3"
    assert sorted(sagas[1:3]) == ["tr_2", "tr_2b"] and len(sagas) == 4
    everything = await journal.page_for_account_ascending("wal_s", 10, None, None)
    assert everything[0].saga_id == "tr_0" and len(everything) == 6
