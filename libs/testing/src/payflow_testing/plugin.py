"""pytest plugin loaded for the whole suite: one set of real stores per test session.

Fixtures: `stores` (the endpoints), `mongo_client` / `mongo_db` (a fresh database per test),
`redis_client` (decode_responses=False), `unique` (a short random token for names), `now` (the
real clock at the start of the test, in UTC, to the millisecond: see `payflow_testing.clock`).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from payflow_testing.clock import utc_now_ms
from payflow_testing.stores import StoreEndpoints, provide_stores


@pytest.fixture(scope="session")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreEndpoints]:
    work_dir: Path = tmp_path_factory.mktemp("stores")
    with provide_stores(work_dir) as endpoints:
        yield endpoints


@pytest.fixture
def unique() -> str:
    return secrets.token_hex(4)


@pytest.fixture
def now() -> datetime:
    """The real clock, read once per test: never a pinned date next to a TTL or a token expiry."""
    return utc_now_ms()


@pytest.fixture
async def mongo_client(stores: StoreEndpoints) -> AsyncIterator[Any]:
    from pymongo import AsyncMongoClient

    client: Any = AsyncMongoClient(stores.mongo_url, tz_aware=True, serverSelectionTimeoutMS=5000)
    yield client
    await client.close()


@pytest.fixture
async def mongo_db(mongo_client: Any, unique: str) -> AsyncIterator[Any]:
    db = mongo_client[f"test_{unique}"]
    yield db
    await mongo_client.drop_database(db.name)


@pytest.fixture
async def redis_client(stores: StoreEndpoints) -> AsyncIterator[Any]:
    from redis.asyncio import Redis

    client = Redis.from_url(stores.redis_url, decode_responses=False)
    yield client
    await client.aclose()
