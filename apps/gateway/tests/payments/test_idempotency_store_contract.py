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

# Today, not a fixed date: the store's TTL index deletes a record whose expiry has passed, so a
# fixed date makes these tests fail once it is a day old.
NOW = datetime.now(UTC).replace(microsecond=0)
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
    assert isinstance(await store.claim("r1", "fp", NOW, LOCK, TTL), Claimed)
    assert await store.claim("r1", "fp", NOW, LOCK, TTL) == InProgress()


async def test_a_completed_key_replays_the_first_answer(store: IdempotencyStore) -> None:
    claim = await store.claim("r1", "fp", NOW, LOCK, TTL)
    assert isinstance(claim, Claimed)
    await store.complete("r1", claim.token, 202, {"id": "tr_1"})
    assert await store.claim("r1", "fp", NOW, LOCK, TTL) == Replay(202, {"id": "tr_1"})


async def test_the_same_key_with_another_body_is_a_mismatch(store: IdempotencyStore) -> None:
    claim = await store.claim("r1", "fp", NOW, LOCK, TTL)
    assert isinstance(claim, Claimed)
    await store.complete("r1", claim.token, 202, {"id": "tr_1"})
    assert await store.claim("r1", "other", NOW, LOCK, TTL) == Mismatch()


async def test_a_released_key_can_be_claimed_again(store: IdempotencyStore) -> None:
    claim = await store.claim("r1", "fp", NOW, LOCK, TTL)
    assert isinstance(claim, Claimed)
    await store.release("r1", claim.token)
    assert isinstance(await store.claim("r1", "fp2", NOW, LOCK, TTL), Claimed)


async def test_a_lapsed_lock_is_taken_over_once(store: IdempotencyStore) -> None:
    first = await store.claim("r1", "fp", NOW, LOCK, TTL)
    later = NOW + LOCK + timedelta(seconds=1)
    second = await store.claim("r1", "fp", later, LOCK, TTL)
    assert isinstance(first, Claimed)
    assert isinstance(second, Claimed)
    assert await store.claim("r1", "fp", later, LOCK, TTL) == InProgress()
    # The first owner, late, can neither release nor complete the claim taken over from it.
    await store.release("r1", first.token)
    await store.complete("r1", first.token, 500, {"late": True})
    assert await store.claim("r1", "fp", later, LOCK, TTL) == InProgress()
    await store.complete("r1", second.token, 202, {"id": "tr_2"})
    assert await store.claim("r1", "fp", later, LOCK, TTL) == Replay(202, {"id": "tr_2"})


async def test_an_expired_key_starts_afresh(store: IdempotencyStore) -> None:
    claim = await store.claim("r1", "fp", NOW, LOCK, TTL)
    assert isinstance(claim, Claimed)
    await store.complete("r1", claim.token, 202, {"id": "tr_1"})
    fresh = await store.claim("r1", "other", NOW + TTL + timedelta(seconds=1), LOCK, TTL)
    assert isinstance(fresh, Claimed)


async def test_twenty_concurrent_claims_give_exactly_one_owner(store: IdempotencyStore) -> None:
    claims = await asyncio.gather(*(store.claim("r1", "fp", NOW, LOCK, TTL) for _ in range(20)))
    assert sum(isinstance(c, Claimed) for c in claims) == 1
    assert claims.count(InProgress()) == 19
