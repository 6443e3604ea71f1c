"""Which updates the nx-27017 shim routes through the store's correct (Python) update path."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from payflow_devstack.embedded_mongo import needs_python_path

# Any datetime will do: these tests only classify update documents and touch no store.
ANY_DATETIME = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "update",
    [
        {"$set": {"updated_at": ANY_DATETIME}},
        {"$set": {"history": [{"at": ANY_DATETIME}]}},
        {"$setOnInsert": {"created_at": ANY_DATETIME}, "$inc": {"n": 1}},
        {"$push": {"history": {"state": "a"}}},
        {"$push": {"history": {"$each": [{"state": "a"}]}}},
        {"$addToSet": {"tags": {"k": 1}}},
    ],
)
def test_datetimes_and_pushed_documents_take_the_python_path(update: dict[str, object]) -> None:
    assert needs_python_path(update)


@pytest.mark.parametrize(
    "update",
    [
        {"$set": {"status": "frozen"}, "$inc": {"version": 1}},
        {"$inc": {"balance": -10}, "$set": {"marks.tr_1:debit": "debited"}},
        {"$push": {"ids": "x"}},
        {"$push": {"ids": {"$each": ["x", "y"]}}},
        {"$unset": {"marks.a": ""}},
    ],
)
def test_everything_else_keeps_the_fast_path(update: dict[str, object]) -> None:
    assert not needs_python_path(update)
