"""One contract for every IdempotencyStore: the MongoDB adapter and its in-memory twin."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from beanie import init_beanie

from payflow_gateway.payments.idempotency_store import (
    Claimed,
    IdempotencyRecordDocument,
    IdempotencyStore,
    InMemoryIdempotencyStore,
    InProgress,
    Mismatch,
    MongoIdempotencyStore,
    Replay,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LOCK = timedelta(seconds=30)
TTL = timedelta(hours=24)


@pytest.fixture(params=["mongo", "memory"])
async def store(request: Any, mongo_db: Any) -> AsyncIterator[IdempotencyStore]:
    if request.param == "memory":
        yield InMemoryIdempotencyStore()
        return
    await init_beanie(database=mongo_db, document_models=[IdempotencyRecordDocument])
    yield MongoIdempotencyStore(mongo_db["idempotency_records"])


async def test_the_first_claim_wins_and_a_second_sees_the_work_in_progress(
    store: IdempotencyStore,
) -> None:
    assert await store.claim("r1", "fp", NOW, LOCK, TTL) == Claimed()
    assert await store.claim("r1", "fp", NOW, LOCK, TTL) == InProgress()


async def test_a_completed_key_replays_the_first_answer(store: IdempotencyStore) -> None:
    await store.claim("r1", "fp", NOW, LOCK, TTL)
    await store.complete("r1", 202, {"id": "tr_1"})
    assert await store.claim("r1", "fp", NOW, LOCK, TTL) == Replay(202, {"id": "tr_1"})


async def test_the_same_key_with_another_body_is_a_mismatch(store: IdempotencyStore) -> None:
    await store.claim("r1", "fp", NOW, LOCK, TTL)
    await store.complete("r1", 202, {"id": "tr_1"})
    assert await store.claim("r1", "other", NOW, LOCK, TTL) == Mismatch()


async def test_a_released_key_can_be_claimed_again(store: IdempotencyStore) -> None:
    await store.claim("r1", "fp", NOW, LOCK, TTL)
    await store.release("r1")
    assert await store.claim("r1", "fp2", NOW, LOCK, TTL) == Claimed()


async def test_a_lapsed_lock_is_taken_over_once(store: IdempotencyStore) -> None:
    await store.claim("r1", "fp", NOW, LOCK, TTL)
    later = NOW + LOCK + timedelta(seconds=1)
    assert await store.claim("r1", "fp", later, LOCK, TTL) == Claimed()
    assert await store.claim("r1", "fp", later, LOCK, TTL) == InProgress()


async def test_an_expired_key_starts_afresh(store: IdempotencyStore) -> None:
    await store.claim("r1", "fp", NOW, LOCK, TTL)
    await store.complete("r1", 202, {"id": "tr_1"})
    assert (
        await store.claim("r1", "other", NOW + TTL + timedelta(seconds=1), LOCK, TTL) == Claimed()
    )


async def test_twenty_concurrent_claims_give_exactly_one_owner(store: IdempotencyStore) -> None:
    claims = await asyncio.gather(*(store.claim("r1", "fp", NOW, LOCK, TTL) for _ in range(20)))
    assert claims.count(Claimed()) == 1
    assert claims.count(InProgress()) == 19
