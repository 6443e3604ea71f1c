"""Per-owner caps on a real store: exact under concurrent creations, freed by deletion, and
counting documents made before the cap existed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo.errors import DuplicateKeyError

from payflow_service.quotas import (
    SLOT_FIELD,
    QuotaExceeded,
    insert_within_quota,
    quota_problem,
    quota_slot_index,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def things(mongo_db: Any) -> Any:
    collection = mongo_db["things"]
    await collection.create_indexes([quota_slot_index("owner")])
    return collection


def creator(collection: Any, owner: str, cap: int) -> Any:
    async def create(thing_id: str) -> int:
        async def insert(slot: int) -> None:
            await collection.insert_one({"_id": thing_id, "owner": owner, SLOT_FIELD: slot})

        return await insert_within_quota(collection, {"owner": owner}, cap, insert)

    return create


async def test_fifty_concurrent_creations_store_exactly_the_cap(things: Any) -> None:
    create = creator(things, "usr_a", 5)
    outcomes = await asyncio.gather(*(create(f"t{n}") for n in range(50)), return_exceptions=True)
    made = [o for o in outcomes if isinstance(o, int)]
    refused = [o for o in outcomes if isinstance(o, QuotaExceeded)]
    assert sorted(made) == [0, 1, 2, 3, 4]
    assert len(refused) == 45
    assert await things.count_documents({"owner": "usr_a"}) == 5
    # Another owner has a cap of their own.
    assert await creator(things, "usr_b", 5)("other") == 0


async def test_a_deleted_or_unslotted_document_frees_its_slot(things: Any) -> None:
    create = creator(things, "usr_a", 2)
    await create("t1")
    await create("t2")
    with pytest.raises(QuotaExceeded):
        await create("t3")
    await things.delete_one({"_id": "t1"})
    assert await create("t3") == 0
    # A document that stops counting (a revoked key) gives its slot back and leaves the scope.
    await things.update_one({"_id": "t2"}, {"$unset": {SLOT_FIELD: ""}, "$set": {"gone": True}})
    counted = {"owner": "usr_a", "gone": {"$ne": True}}

    async def insert(slot: int) -> None:
        await things.insert_one({"_id": "t4", "owner": "usr_a", SLOT_FIELD: slot})

    assert await insert_within_quota(things, counted, 2, insert) == 1


async def test_documents_from_before_the_cap_count_without_a_slot(things: Any) -> None:
    await things.insert_many(
        [{"_id": "old1", "owner": "usr_a"}, {"_id": "old2", "owner": "usr_a", SLOT_FIELD: None}]
    )
    create = creator(things, "usr_a", 4)
    outcomes = await asyncio.gather(*(create(f"t{n}") for n in range(10)), return_exceptions=True)
    assert sorted(o for o in outcomes if isinstance(o, int)) == [0, 1]
    assert await things.count_documents({"owner": "usr_a"}) == 4
    await things.delete_one({"_id": "old1"})
    assert await create("t-after") == 2
    with pytest.raises(QuotaExceeded):
        await create("t-more")


async def test_a_taken_id_is_not_mistaken_for_a_taken_slot(things: Any) -> None:
    create = creator(things, "usr_a", 3)
    await create("same")
    with pytest.raises(DuplicateKeyError):
        await create("same")
    assert await things.count_documents({"owner": "usr_a"}) == 1


def test_the_problem_names_the_cap_and_its_setting() -> None:
    problem = quota_problem(QuotaExceeded(10), "wallets", "PAYFLOW_MAX_WALLETS_PER_USER")
    assert (problem.status, problem.code) == (409, "quota_exceeded")
    assert "10 wallets" in problem.detail and "PAYFLOW_MAX_WALLETS_PER_USER" in problem.detail
