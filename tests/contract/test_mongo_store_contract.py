"""Every MongoDB behaviour PayFlow relies on, pinned against whichever store the fixtures provide.

The same tests run on the embedded nx-27017 and on real MongoDB (testcontainers, or
PAYFLOW_TEST_MONGO_URL). The known gaps of the embedded store are written down as tests too: they
assert the gap on nx-27017 and the correct behaviour on MongoDB, so if either changes we hear of it.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

pytestmark = pytest.mark.integration


async def test_a_unique_index_refuses_a_second_document_with_duplicate_key_error(
    mongo_db: Any,
) -> None:
    wallets = mongo_db["wallets"]
    await wallets.create_index([("owner_id", ASCENDING), ("currency", ASCENDING)], unique=True)
    await wallets.insert_one({"_id": "wal_1", "owner_id": "usr_1", "currency": "USD"})
    with pytest.raises(DuplicateKeyError) as caught:
        await wallets.insert_one({"_id": "wal_2", "owner_id": "usr_1", "currency": "USD"})
    assert caught.value.code == 11000
    assert await wallets.count_documents({}) == 1


async def test_a_duplicate_id_is_refused(mongo_db: Any) -> None:
    ops = mongo_db["operations"]
    await ops.insert_one({"_id": "tr_1:debit_source", "outcome": "debited"})
    with pytest.raises(DuplicateKeyError):
        await ops.insert_one({"_id": "tr_1:debit_source", "outcome": "insufficient_funds"})
    assert (await ops.find_one({"_id": "tr_1:debit_source"}))["outcome"] == "debited"


async def test_compare_and_set_on_version_lets_exactly_one_of_50_concurrent_writers_win_each_round(
    mongo_db: Any,
) -> None:
    sagas = mongo_db["sagas"]
    await sagas.insert_one({"_id": "tr_1", "version": 0, "writers": []})

    async def write_once(writer: int) -> bool:
        current = await sagas.find_one({"_id": "tr_1"})
        result = await sagas.update_one(
            {"_id": "tr_1", "version": current["version"]},
            {"$set": {"version": current["version"] + 1, "writers": [*current["writers"], writer]}},
        )
        return result.modified_count == 1

    outcomes = await asyncio.gather(*(write_once(i) for i in range(50)))
    final = await sagas.find_one({"_id": "tr_1"})
    # Every winner's write is in the document and no write was lost or applied twice.
    assert final["version"] == sum(outcomes)
    assert len(final["writers"]) == sum(outcomes)
    assert sorted(final["writers"]) == sorted(i for i, won in enumerate(outcomes) if won)
    assert sum(outcomes) >= 1


async def test_a_conditional_decrement_under_50_concurrent_writers_never_goes_negative(
    mongo_db: Any,
) -> None:
    wallets = mongo_db["wallets"]
    await wallets.insert_one({"_id": "wal_1", "balance": 250})

    async def debit(i: int) -> bool:
        result = await wallets.update_one(
            {"_id": "wal_1", "balance": {"$gte": 10}, f"marks.op{i}": {"$exists": False}},
            {"$inc": {"balance": -10}, "$set": {f"marks.op{i}": "debited"}},
        )
        return result.modified_count == 1

    outcomes = await asyncio.gather(*(debit(i) for i in range(50)))
    final = await wallets.find_one({"_id": "wal_1"})
    assert sum(outcomes) == 25
    assert final["balance"] == 0
    assert len(final["marks"]) == 25


async def test_update_one_upsert_applies_set_on_insert_only_when_inserting(mongo_db: Any) -> None:
    records = mongo_db["records"]
    await records.update_one(
        {"_id": "k1"}, {"$setOnInsert": {"created": 1}, "$set": {"seen": 1}}, upsert=True
    )
    await records.update_one(
        {"_id": "k1"}, {"$setOnInsert": {"created": 2}, "$set": {"seen": 2}}, upsert=True
    )
    assert await records.find_one({"_id": "k1"}) == {"_id": "k1", "created": 1, "seen": 2}


async def test_ttl_index_removes_expired_documents(mongo_db: Any, stores: Any) -> None:
    records = mongo_db["idempotency"]
    await records.create_index("expires_at", expireAfterSeconds=0)
    past = datetime.now(UTC) - timedelta(minutes=5)
    await records.insert_one({"_id": "old", "expires_at": past})
    await records.insert_one({"_id": "new", "expires_at": datetime.now(UTC) + timedelta(hours=1)})
    # MongoDB's TTL monitor runs every 60 s; nx-27017 expires on access. Wait for either.
    deadline = time.monotonic() + 75
    while time.monotonic() < deadline and await records.count_documents({"_id": "old"}):
        await asyncio.sleep(1)
    assert await records.count_documents({"_id": "old"}) == 0
    assert await records.count_documents({"_id": "new"}) == 1


async def test_sort_and_limit_give_stable_cursor_pages(mongo_db: Any, now: datetime) -> None:
    transfers = mongo_db["transfers"]
    await transfers.insert_many(
        [{"_id": f"tr_{i:02d}", "created_at": now + timedelta(seconds=i // 2)} for i in range(10)]
    )
    seen: list[str] = []
    query: dict[str, Any] = {}
    while True:
        page = [
            doc
            async for doc in transfers.find(query)
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .limit(3)
        ]
        seen += [doc["_id"] for doc in page]
        if len(page) < 3:
            break
        last = page[-1]
        query = {
            "$or": [
                {"created_at": {"$lt": last["created_at"]}},
                {"created_at": last["created_at"], "_id": {"$lt": last["_id"]}},
            ]
        }
    assert seen == [f"tr_{i:02d}" for i in reversed(range(10))]


async def test_find_one_and_update_returns_the_document_after_a_guarded_update(
    mongo_db: Any,
) -> None:
    sagas = mongo_db["sagas"]
    await sagas.insert_one({"_id": "tr_1", "state": "debiting_source", "version": 3})
    updated = await sagas.find_one_and_update(
        {"_id": "tr_1", "state": "debiting_source"},
        {"$set": {"state": "posting_transfer"}, "$inc": {"version": 1}},
        return_document=ReturnDocument.AFTER,
    )
    assert updated["state"] == "posting_transfer"
    assert updated["version"] == 4
    missed = await sagas.find_one_and_update(
        {"_id": "tr_1", "state": "debiting_source"}, {"$set": {"state": "failed"}}
    )
    assert missed is None


async def test_unset_and_dotted_paths_update_one_key_of_a_map(mongo_db: Any) -> None:
    wallets = mongo_db["wallets"]
    await wallets.insert_one({"_id": "w", "marks": {"a:debit": "debited", "b:debit": "debited"}})
    await wallets.update_one({"_id": "w"}, {"$unset": {"marks.a:debit": ""}, "$inc": {"epoch": 1}})
    assert await wallets.find_one({"_id": "w"}) == {
        "_id": "w",
        "marks": {"b:debit": "debited"},
        "epoch": 1,
    }


async def test_lt_matches_neither_an_absent_nor_a_null_field(mongo_db: Any) -> None:
    """The wallet's fresh-decision guard (`pruned_through_ms` below the issue time) must fail
    on a wallet whose value is unknown, stored as null or not stored at all."""
    wallets = mongo_db["wallets"]
    await wallets.insert_many(
        [
            {"_id": "absent"},
            {"_id": "null", "pruned_through_ms": None},
            {"_id": "known", "pruned_through_ms": 5},
        ]
    )
    found = [d["_id"] async for d in wallets.find({"pruned_through_ms": {"$lt": 2**62}})]
    assert found == ["known"]
    assert (
        await wallets.update_one(
            {"_id": "null", "pruned_through_ms": {"$lt": 9}}, {"$set": {"x": 1}}
        )
    ).matched_count == 0


async def test_a_map_value_may_be_a_subdocument_set_and_unset_by_its_dotted_path(
    mongo_db: Any,
) -> None:
    wallets = mongo_db["wallets"]
    await wallets.insert_one({"_id": "w", "marks": {"old:debit": "debited"}})
    mark = {"v": "debited", "k": "debit", "a": 10, "c": "USD", "i": 1_700_000_000_123, "t": 5}
    await wallets.update_one(
        {"_id": "w", "marks.new:debit": {"$exists": False}}, {"$set": {"marks.new:debit": mark}}
    )
    assert (await wallets.find_one({"_id": "w"}))["marks"] == {
        "old:debit": "debited",
        "new:debit": mark,
    }
    await wallets.update_one({"_id": "w"}, {"$unset": {"marks.new:debit": ""}})
    assert (await wallets.find_one({"_id": "w"}))["marks"] == {"old:debit": "debited"}


async def test_aggregate_sums_per_group(mongo_db: Any) -> None:
    entries = mongo_db["entries"]
    await entries.insert_many(
        [
            {"account": "a", "amount": 5},
            {"account": "a", "amount": 7},
            {"account": "b", "amount": 1},
        ]
    )
    cursor = await entries.aggregate(
        [{"$group": {"_id": "$account", "total": {"$sum": "$amount"}}}, {"$sort": {"_id": 1}}]
    )
    assert await cursor.to_list() == [{"_id": "a", "total": 12}, {"_id": "b", "total": 1}]


# ---------------------------------------------------------------- known gaps of nx-27017


async def test_gap_find_one_and_update_upsert_and_set_on_insert(mongo_db: Any, stores: Any) -> None:
    """design.md gap (b): the embedded store ignores $setOnInsert here; PayFlow uses update_one."""
    records = mongo_db["records"]
    doc = await records.find_one_and_update(
        {"_id": "k"},
        {"$setOnInsert": {"created": 1}, "$set": {"seen": 1}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    if stores.mongo_is_embedded:
        assert "created" not in doc
    else:
        assert doc["created"] == 1


async def test_push_of_subdocuments_keeps_them_documents(mongo_db: Any) -> None:
    """nx-27017's SQL fast path stores pushed documents as JSON strings; the embedded store runs
    with PayFlow's shim (payflow_devstack.embedded_mongo) which routes such updates through its
    correct Python path. This test holds the shim in place."""
    sagas = mongo_db["sagas"]
    await sagas.insert_one({"_id": "tr_1", "history": [{"state": "a"}]})
    await sagas.update_one({"_id": "tr_1"}, {"$push": {"history": {"state": "b"}}})
    await sagas.update_one({"_id": "tr_1"}, {"$addToSet": {"tags": {"k": 1}}})
    stored = await sagas.find_one({"_id": "tr_1"})
    assert stored["history"] == [{"state": "a"}, {"state": "b"}]
    assert stored["tags"] == [{"k": 1}]


async def test_gap_index_direction_is_not_reported(mongo_db: Any, stores: Any) -> None:
    """design.md gap (c): index key direction is not reported by the embedded store."""
    transfers = mongo_db["transfers"]
    await transfers.create_index([("created_at", DESCENDING)], name="by_created_desc")
    info = await transfers.index_information()
    keys = [spec["key"] for spec in info.values() if spec["key"] != [("_id", 1)]]
    if stores.mongo_is_embedded:
        assert keys == [[("created_at", 1)]]
    else:
        assert keys == [[("created_at", -1)]]


async def test_gap_transactions_are_not_isolated(
    mongo_client: Any, mongo_db: Any, stores: Any
) -> None:
    """design.md gap (a): inside a transaction, uncommitted writes are visible to other clients on
    the embedded store. PayFlow uses no multi-document transactions."""
    accounts = mongo_db["accounts"]
    await accounts.insert_one({"_id": "a", "balance": 0})
    if not stores.mongo_is_embedded:
        hello = await mongo_client.admin.command("hello")
        if "setName" not in hello:
            pytest.fail("the MongoDB test server must be a replica set (testcontainers starts one)")
    async with mongo_client.start_session() as session:
        await session.start_transaction()
        await accounts.update_one({"_id": "a"}, {"$set": {"balance": 100}}, session=session)
        seen_outside = (await accounts.find_one({"_id": "a"}))["balance"]
        await session.abort_transaction()
    if stores.mongo_is_embedded:
        assert seen_outside == 100
    else:
        assert seen_outside == 0


async def test_set_of_a_datetime_keeps_it_a_datetime(mongo_db: Any) -> None:
    """nx-27017's SQL fast path stores a top-level `$set` datetime as a string; the shim routes it
    through the correct path. Range queries on such fields must keep working."""
    records = mongo_db["records"]
    now = datetime.now(UTC).replace(microsecond=0)
    await records.insert_one({"_id": "r", "at": now})
    await records.update_one({"_id": "r"}, {"$set": {"later": now + timedelta(seconds=5)}})
    await records.update_one({"_id": "r"}, {"$set": {"nested": {"at": now}}, "$inc": {"n": 1}})
    stored = await records.find_one({"_id": "r"})
    assert stored["later"] == now + timedelta(seconds=5)
    assert stored["nested"]["at"] == now
    assert await records.count_documents({"later": {"$gt": now}}) == 1


async def test_datetimes_compare_to_the_millisecond(mongo_db: Any, now: datetime) -> None:
    records = mongo_db["records"]
    # A whole second, so a store that compared by the second would see base and base + 5 ms equal.
    base = now.replace(microsecond=0)
    await records.insert_one({"_id": "r", "at": base + timedelta(milliseconds=5)})
    assert await records.count_documents({"at": {"$gt": base}}) == 1
    assert await records.count_documents({"at": {"$lt": base + timedelta(milliseconds=6)}}) == 1
    assert await records.count_documents({"at": {"$lt": base + timedelta(milliseconds=5)}}) == 0
    assert await records.count_documents({"at": base + timedelta(milliseconds=5)}) == 1
    assert await records.count_documents({"at": base}) == 0


async def test_an_indexed_null_is_outside_every_range_and_a_guarded_update_many_applies(
    mongo_db: Any,
) -> None:
    # The work fields (due_at_ms, owes_events_since_ms) hold a number while there is work and
    # null after; the background queries rely on null matching no range.
    collection = mongo_db["work"]
    await collection.create_index([("due_at_ms", ASCENDING)])
    await collection.insert_many(
        [{"_id": "due", "due_at_ms": 5}, {"_id": "later", "due_at_ms": 50}, {"_id": "done"}]
    )
    await collection.update_one({"_id": "done"}, {"$set": {"due_at_ms": None}})
    assert [d["_id"] async for d in collection.find({"due_at_ms": {"$lte": 10}})] == ["due"]
    assert {d["_id"] async for d in collection.find({"due_at_ms": {"$gte": 0}})} == {
        "due",
        "later",
    }
    cleared = await collection.update_many(
        {"_id": {"$in": ["due", "later", "done"]}, "due_at_ms": {"$lte": 10}},
        {"$set": {"due_at_ms": None}},
    )
    assert cleared.matched_count == 1
    assert [d["_id"] async for d in collection.find({"due_at_ms": {"$gte": 0}})] == ["later"]


async def test_gap_ne_on_a_missing_field_does_not_match_in_an_update_filter(
    mongo_db: Any, stores: Any
) -> None:
    # MongoDB matches {"a": {"$ne": x}} where `a` is missing, in finds and updates alike;
    # nx-27017 does in finds only. No update filter of PayFlow uses $ne for that reason.
    collection = mongo_db["ne_gap"]
    await collection.insert_one({"_id": 1})
    found = [d["_id"] async for d in collection.find({"a": {"$ne": "x"}})]
    updated = await collection.update_many({"a": {"$ne": "x"}}, {"$set": {"b": 1}})
    assert found == [1]
    assert updated.matched_count == (0 if stores.mongo_is_embedded else 1)
