"""One contract for every IdempotencyStore: the MongoDB adapter and its in-memory twin."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from beanie import init_beanie

from payflow_gateway.adapters.memory import InMemoryIdempotencyStore
from payflow_gateway.adapters.mongo import IdempotencyRecordDocument, MongoIdempotencyStore
from payflow_gateway.adapters.redis import RedisIdempotencyStore
from payflow_gateway.domain.idempotency import Claimed, InProgress, Mismatch, Replay
from payflow_gateway.ports import IdempotencyStore

LOCK = timedelta(seconds=30)
TTL = timedelta(hours=24)


@pytest.fixture(params=["mongo", "redis", "memory"])
async def store(
    request: Any, mongo_db: Any, redis_client: Any, unique: str
) -> AsyncIterator[IdempotencyStore]:
    if request.param == "memory":
        yield InMemoryIdempotencyStore()
        return
    if request.param == "redis":
        yield RedisIdempotencyStore(redis_client, f"test{unique}")
        return
    await init_beanie(database=mongo_db, document_models=[IdempotencyRecordDocument])
    yield MongoIdempotencyStore(mongo_db["idempotency_records"])


async def test_the_first_claim_wins_and_a_second_sees_the_work_in_progress(
    store: IdempotencyStore, now: datetime
) -> None:
    assert isinstance(await store.claim("r1", "fp", now, LOCK, TTL), Claimed)
    assert await store.claim("r1", "fp", now, LOCK, TTL) == InProgress()


async def test_a_completed_key_replays_the_first_answer(
    store: IdempotencyStore, now: datetime
) -> None:
    claim = await store.claim("r1", "fp", now, LOCK, TTL)
    assert isinstance(claim, Claimed)
    await store.complete("r1", claim.token, 202, {"id": "tr_1"})
    assert await store.claim("r1", "fp", now, LOCK, TTL) == Replay(202, {"id": "tr_1"})


async def test_the_same_key_with_another_body_is_a_mismatch(
    store: IdempotencyStore, now: datetime
) -> None:
    claim = await store.claim("r1", "fp", now, LOCK, TTL)
    assert isinstance(claim, Claimed)
    await store.complete("r1", claim.token, 202, {"id": "tr_1"})
    assert await store.claim("r1", "other", now, LOCK, TTL) == Mismatch()


async def test_a_released_key_can_be_claimed_again(store: IdempotencyStore, now: datetime) -> None:
    claim = await store.claim("r1", "fp", now, LOCK, TTL)
    assert isinstance(claim, Claimed)
    await store.release("r1", claim.token)
    assert isinstance(await store.claim("r1", "fp2", now, LOCK, TTL), Claimed)


async def test_a_lapsed_lock_is_taken_over_once(store: IdempotencyStore, now: datetime) -> None:
    first = await store.claim("r1", "fp", now, LOCK, TTL)
    later = now + LOCK + timedelta(seconds=1)
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


async def test_an_expired_key_starts_afresh(store: IdempotencyStore, now: datetime) -> None:
    claim = await store.claim("r1", "fp", now, LOCK, TTL)
    assert isinstance(claim, Claimed)
    await store.complete("r1", claim.token, 202, {"id": "tr_1"})
    fresh = await store.claim("r1", "other", now + TTL + timedelta(seconds=1), LOCK, TTL)
    assert isinstance(fresh, Claimed)


async def test_twenty_concurrent_claims_give_exactly_one_owner(
    store: IdempotencyStore, now: datetime
) -> None:
    claims = await asyncio.gather(*(store.claim("r1", "fp", now, LOCK, TTL) for _ in range(20)))
    assert sum(isinstance(c, Claimed) for c in claims) == 1
    assert claims.count(InProgress()) == 19


async def test_a_replayed_answer_keeps_its_body_exactly(
    store: IdempotencyStore, now: datetime
) -> None:
    body = {"id": "tr_1", "amount": 2**53 + 1, "metadata": {}, "history": [], "note": "café"}
    claim = await store.claim("r1", "fp", now, LOCK, TTL)
    assert isinstance(claim, Claimed)
    await store.complete("r1", claim.token, 200, body)
    assert await store.claim("r1", "fp", now, LOCK, TTL) == Replay(200, body)


async def test_a_redis_that_cannot_answer_claims_nothing_and_says_so_with_a_503(
    now: datetime,
) -> None:
    from redis.asyncio import Redis

    from payflow_devstack.stores import free_port
    from payflow_gateway.domain.errors import ServiceUnavailable
    from payflow_gateway.problems import service_unavailable_response

    dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    store = RedisIdempotencyStore(dead, "test")
    try:
        with pytest.raises(ServiceUnavailable) as refused:
            await store.claim("r1", "fp", now, LOCK, TTL)
        answer = service_unavailable_response(refused.value)
        assert answer.status_code == 503
        assert json.loads(answer.body)["code"] == "service_unavailable"
        await store.complete("r1", "token", 202, {"id": "tr_1"})  # logged, not raised
        await store.release("r1", "token")
    finally:
        await dead.aclose()
