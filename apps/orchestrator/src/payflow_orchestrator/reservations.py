"""Reservations held on parent documents (transfers being refunded, payment links being paid) for
their child sagas, and the keeper that settles them (the rules: `domain/reservations.py`).

Each kind of parent is a `ReservationParents` store: its MongoDB adapter writes every change as
one guarded single-document update, and an in-memory twin passes the same contract tests. Parents
with open reservations carry `reservations_due_ms`, indexed, so the keeper's query costs the work
due, not the history.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from payflow_orchestrator.domain.reservations import (
    KeeperAction,
    Reservation,
    Settlement,
    keeper_action,
    settlement_for,
    slot_for,
)
from payflow_orchestrator.domain.saga_machine import SagaState
from payflow_orchestrator.domain.transfer import Transfer
from payflow_orchestrator.repository import TransferRepository

logger = logging.getLogger(__name__)

NEVER_DUE = None


def now_ms() -> int:
    return int(time.time() * 1000)


class ReservationParents(Protocol):
    """A collection of parents whose reservations the keeper settles."""

    async def settle(
        self, parent_id: str, slot: str, saga_id: str, amount: int, settlement: Settlement
    ) -> bool:
        """Remove the slot if it still holds `saga_id`, and count the share as consumed or give
        it back. True when this call settled it (False: settled before, or never reserved)."""
        ...

    async def due(self, now_ms: int, limit: int) -> list[tuple[str, dict[str, Reservation]]]:
        """Parents whose open reservations are due a look: (parent id, open reservations)."""
        ...

    async def postpone(self, parent_id: str, until_ms: int) -> None:
        """Look again at `until_ms` while reservations are open; forget the parent otherwise."""
        ...


class MongoReservations:
    """Settling and finding due reservations of one collection; the counters a settlement moves
    are the parent kind's (`consumed_inc`, `released_inc`)."""

    def __init__(
        self,
        collection: Any,
        consumed_inc: Callable[[int], dict[str, int]],
        released_inc: Callable[[int], dict[str, int]],
    ) -> None:
        self._collection = collection
        self._consumed_inc = consumed_inc
        self._released_inc = released_inc

    async def settle(
        self, parent_id: str, slot: str, saga_id: str, amount: int, settlement: Settlement
    ) -> bool:
        counters = (
            self._consumed_inc(amount)
            if settlement is Settlement.CONSUMED
            else self._released_inc(amount)
        )
        result = await self._collection.update_one(
            {"_id": parent_id, f"reservations.{slot}.saga_id": saga_id},
            {
                "$unset": {f"reservations.{slot}": ""},
                "$inc": {**counters, "reservations_open": -1},
            },
        )
        settled = bool(result.modified_count == 1)
        if settled:
            await self._forget_if_idle(parent_id)
        return settled

    async def _forget_if_idle(self, parent_id: str) -> bool:
        result = await self._collection.update_one(
            {"_id": parent_id, "reservations_open": 0},
            {"$set": {"reservations_due_ms": NEVER_DUE}},
        )
        return bool(result.modified_count == 1)

    async def due(self, now_ms: int, limit: int) -> list[tuple[str, dict[str, Reservation]]]:
        cursor = (
            self._collection.find(
                {"reservations_due_ms": {"$lte": now_ms}},
                projection={"reservations": 1},
            )
            .sort([("reservations_due_ms", 1)])
            .limit(limit)
        )
        return [
            (
                str(doc["_id"]),
                {
                    slot: Reservation.model_validate(data)
                    for slot, data in (doc.get("reservations") or {}).items()
                },
            )
            async for doc in cursor
        ]

    async def postpone(self, parent_id: str, until_ms: int) -> None:
        if await self._forget_if_idle(parent_id):
            return
        await self._collection.update_one(
            {"_id": parent_id, "reservations_open": {"$gt": 0}},
            {"$set": {"reservations_due_ms": until_ms}},
        )


class InMemoryReservations:
    """The twin of `MongoReservations` over parents kept in a dict of frozen models that have
    `reservations` and `reservations_open`; `apply` moves the kind's counters."""

    def __init__(
        self,
        items: dict[str, Any],
        consumed: Callable[[Any, int], dict[str, Any]],
        released: Callable[[Any, int], dict[str, Any]],
    ) -> None:
        self._items = items
        self._consumed = consumed
        self._released = released
        self.due_ms: dict[str, int | None] = {}

    async def settle(
        self, parent_id: str, slot: str, saga_id: str, amount: int, settlement: Settlement
    ) -> bool:
        parent = self._items.get(parent_id)
        if parent is None:
            return False
        held = parent.reservations.get(slot)
        if held is None or held.saga_id != saga_id:
            return False
        counters = (
            self._consumed(parent, amount)
            if settlement is Settlement.CONSUMED
            else self._released(parent, amount)
        )
        reservations = {k: v for k, v in parent.reservations.items() if k != slot}
        self._items[parent_id] = parent.model_copy(
            update={
                **counters,
                "reservations": reservations,
                "reservations_open": parent.reservations_open - 1,
            }
        )
        if parent.reservations_open - 1 == 0:
            self.due_ms[parent_id] = NEVER_DUE
        return True

    async def due(self, now_ms: int, limit: int) -> list[tuple[str, dict[str, Reservation]]]:
        found = sorted(
            (due, parent_id)
            for parent_id, due in self.due_ms.items()
            if due is not None and due <= now_ms
        )
        return [
            (parent_id, dict(self._items[parent_id].reservations))
            for _, parent_id in found[:limit]
            if parent_id in self._items
        ]

    async def postpone(self, parent_id: str, until_ms: int) -> None:
        parent = self._items.get(parent_id)
        if parent is None or parent.reservations_open == 0:
            self.due_ms[parent_id] = NEVER_DUE
        else:
            self.due_ms[parent_id] = until_ms


class ChildStarter(Protocol):
    async def start_child(self, request: Mapping[str, Any]) -> Transfer:
        """Start the saga a reservation holds (or find it, when it exists)."""
        ...


class ReservationKeeper:
    """Settles reservations when their child saga is terminal (called by the coordinator right
    after the terminal transition, and by the sweep for whatever a crash left), and starts the
    child of a reservation whose request died before it could."""

    def __init__(
        self,
        transfers: TransferRepository,
        parents_of: Callable[[Transfer], tuple[ReservationParents, str] | None],
        all_parents: Sequence[ReservationParents],
        starter: ChildStarter,
        grace_ms: int,
        clock_ms: Callable[[], int] = now_ms,
    ) -> None:
        self._transfers = transfers
        self._parents_of = parents_of
        self._all_parents = all_parents
        self._starter = starter
        self._grace_ms = grace_ms
        self._clock_ms = clock_ms

    async def settle_child(self, child: Transfer) -> bool:
        """Settle the reservation `child` was started under, once it is terminal."""
        if not child.is_terminal:
            return False
        found = self._parents_of(child)
        if found is None:
            return False
        parents, parent_id = found
        return await parents.settle(
            parent_id,
            slot_for(child.initiator_id, child.idempotency_key),
            child.id,
            child.amount,
            settlement_for(child.state is SagaState.COMPLETED),
        )

    async def sweep_once(self, batch: int = 100) -> int:
        """Look at every parent whose reservations are due; returns the reservations acted on."""
        acted = 0
        now = self._clock_ms()
        for parents in self._all_parents:
            for parent_id, reservations in await parents.due(now, batch):
                try:
                    acted += await self._look_at(parents, parent_id, reservations, now)
                except Exception:  # one parent's failure must not hold up the others
                    logger.exception("reservations of %s: retried next round", parent_id)
        return acted

    async def _look_at(
        self,
        parents: ReservationParents,
        parent_id: str,
        reservations: dict[str, Reservation],
        now: int,
    ) -> int:
        acted = 0
        for reservation in reservations.values():
            child = await self._transfers.get(reservation.saga_id)
            action = keeper_action(
                reservation,
                child.state.value if child else None,
                bool(child and child.is_terminal),
                now,
                self._grace_ms,
            )
            if action is KeeperAction.START_CHILD:
                logger.warning(
                    "reservation of %s on %s had no saga: starting it",
                    reservation.saga_id,
                    parent_id,
                )
                await self._starter.start_child(reservation.request)
                acted += 1
            elif action is KeeperAction.SETTLE and child is not None:
                acted += int(await self.settle_child(child))
        await parents.postpone(parent_id, now + self._grace_ms)
        return acted

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sweep_once()
            except Exception:  # the keeper must outlive any one failure; it retries next tick
                logger.exception("reservation sweep failed; retrying")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)


SettleHook = Callable[[Transfer], Awaitable[bool]]
