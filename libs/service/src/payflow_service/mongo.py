"""Small idioms every MongoDB adapter shares.

The persistence idiom of PayFlow: a Beanie `Document` class declares each collection (its fields
and indexes, created at start-up by `init_beanie`); adapters read and write through that class's
pymongo collection (`Document.get_pymongo_collection()`) with explicit filters and update
operators, and convert to and from domain objects by hand. Guarded single-document writes need
exact filters and `find_one_and_update` return control; the hot path skips model validation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError


async def insert_first(
    collection: AsyncCollection[dict[str, Any]],
    document: Mapping[str, Any],
    key: Mapping[str, Any] | None = None,
) -> Mapping[str, Any]:
    """Insert `document` unless one with its unique key exists; either way, the stored one
    (`document` itself, the same object, when it was inserted).

    The unique key (`_id`, or the fields of another unique index given as `key`) is the arbiter
    of a decision recorded once: the first writer wins and every later writer (a redelivered
    command, a racing replica, a retried request) reads the first one's answer back. A duplicate
    on any other unique index is not ours to resolve and propagates.
    """
    try:
        await collection.insert_one(dict(document))
    except DuplicateKeyError:
        stored = await collection.find_one(key if key is not None else {"_id": document["_id"]})
        if stored is None:
            raise
        return stored
    return document


DUPLICATE_KEY = 11000


async def insert_all_first(
    collection: AsyncCollection[dict[str, Any]], documents: Sequence[Mapping[str, Any]]
) -> None:
    """Insert each of `documents` unless one with its `_id` exists (that one stays), in one
    unordered `insert_many`: a write that was cut short can simply be repeated. Any other
    write error propagates."""
    if not documents:
        return
    try:
        await collection.insert_many([dict(d) for d in documents], ordered=False)
    except BulkWriteError as failed:
        errors = failed.details.get("writeErrors", [])
        if failed.details.get("writeConcernErrors"):
            raise  # written, maybe, but not as durably as asked: not ours to call done
        if not errors or any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise
