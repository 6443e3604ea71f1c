"""The reservation keeper: settles the reservations held on parent documents (transfers being
refunded, payment links being paid) for their child sagas, and starts the child of a reservation
whose request died before it could (the rules: `domain/reservations.py`; the parents: the
`ReservationParents` stores of `ports.py`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from payflow_contracts.clock import utc_now
from payflow_orchestrator.domain.reservations import (
    KeeperAction,
    Reservation,
    keeper_action,
    settlement_for,
    slot_for,
)
from payflow_orchestrator.domain.saga_machine import SagaState
from payflow_orchestrator.domain.transfer import Transfer
from payflow_orchestrator.ports import ChildStarter, ReservationParents, TransferRepository
from payflow_service.loops import run_periodically

logger = logging.getLogger(__name__)


def now_ms() -> int:
    """The wall clock in epoch milliseconds (reservations keep their times so)."""
    return int(utc_now().timestamp() * 1000)


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
        """Sweep every `interval_s` until `stop` is set; a failed round is retried next time."""
        await run_periodically(
            self.sweep_once, interval_s=interval_s, stop=stop, what="reservation sweep"
        )
