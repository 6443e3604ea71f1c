"""Per-owner caps on how many documents of a kind one owner holds, exact under concurrency.

Counting and then inserting lets concurrent creations all see room and all insert. Instead each
counted document holds a slot number below the cap (`quota_slot`), and a unique index on
(owner, slot) (`quota_slot_index`) lets at most one document hold each slot: however many
creations race, at most `cap` documents of one owner hold a slot. A creation takes the lowest free
slot; when a concurrent creation took it first, the insert is refused by the index and the
creation looks again. Deleting a document (or unsetting its slot, for one that stops counting,
like a revoked API key) frees its slot.

Documents stored before the quota existed hold no slot; they count all the same, by shrinking the
range of slots new documents may take (`cap - documents without a slot in range`). That number
only goes down (no new document is stored without a slot), so the bound stays exact.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from payflow_service.problems import ProblemError

SLOT_FIELD = "quota_slot"


class QuotaExceeded(Exception):
    """The owner holds as many documents of this kind as the cap allows."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"the cap of {cap} is reached")
        self.cap = cap


def quota_problem(exceeded: QuotaExceeded, what: str, setting: str) -> ProblemError:
    """409 `quota_exceeded`: `what` is the plural noun ("wallets"), `setting` the variable."""
    return ProblemError(
        409,
        "quota_exceeded",
        f"You hold {exceeded.cap} {what}, the most one user may ({setting}); "
        "delete one before creating another.",
    )


def quota_slot_index(owner_field: str, name: str = "quota_slot_per_owner") -> IndexModel:
    """The unique index that keeps each (owner, slot) to one document; documents without a
    slot (or with `None`) are not in it."""
    return IndexModel(
        [(owner_field, ASCENDING), (SLOT_FIELD, ASCENDING)],
        unique=True,
        name=name,
        partialFilterExpression={SLOT_FIELD: {"$type": "int"}},
    )


def _slot(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def _free_slot(collection: Any, counted: Mapping[str, Any], cap: int) -> int | None:
    held = [_slot(doc.get(SLOT_FIELD)) async for doc in collection.find(counted, {SLOT_FIELD: 1})]
    in_range = {slot for slot in held if slot is not None and 0 <= slot < cap}
    room = cap - (len(held) - len(in_range))
    return next((n for n in range(room) if n not in in_range), None)


async def insert_within_quota(
    collection: Any,
    counted: Mapping[str, Any],
    cap: int,
    insert: Callable[[int], Awaitable[None]],
) -> int:
    """Calls `insert(slot)` with a free slot of the documents `counted` selects (one owner's),
    which must store the new document with `quota_slot = slot` in `collection`; returns the slot.

    Raises `QuotaExceeded` when no slot is free. `insert` may raise `DuplicateKeyError` for
    another unique index (an id taken): that error is passed on.
    """
    # Each refused insert means another creation took a slot meanwhile, so after `cap + 1`
    # refusals every slot was taken at some point: the cap is (or was just now) reached.
    for _ in range(cap + 1):
        slot = await _free_slot(collection, counted, cap)
        if slot is None:
            raise QuotaExceeded(cap)
        try:
            await insert(slot)
            return slot
        except DuplicateKeyError:
            held = {
                _slot(doc.get(SLOT_FIELD))
                async for doc in collection.find(counted, {SLOT_FIELD: 1})
            }
            if slot not in held:
                raise  # another index refused it, not the slot's
    raise QuotaExceeded(cap)
