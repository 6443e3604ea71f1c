"""The refunds of a transfer, kept on the transfer's own document: a reservation per refund in
flight, `refund_reserved` (completed plus in flight) and `refunded_amount` (completed).

Reserving is ONE guarded single-document update: the filter requires the transfer completed, the
slot of (caller, Idempotency-Key) absent and `refund_reserved <= amount - refund`; the update adds
the reservation, the refund's id and the counters together. Twenty concurrent partial refunds
therefore never reserve more than the original amount, and a retry with the same key never
reserves twice (docs/phases/PHASE-9-MERCHANT-PAYMENTS.md).
"""

from __future__ import annotations

from typing import Any, Protocol

from payflow_orchestrator.domain.reservations import Reservation
from payflow_orchestrator.domain.saga_machine import SagaKind, SagaState
from payflow_orchestrator.domain.transfer import Transfer
from payflow_orchestrator.repository import InMemoryTransferRepository
from payflow_orchestrator.reservations import (
    InMemoryReservations,
    MongoReservations,
    ReservationParents,
)


class RefundBook(ReservationParents, Protocol):
    async def reserve(
        self, original: Transfer, slot: str, reservation: Reservation, due_ms: int
    ) -> bool:
        """Reserve `reservation.amount` of `original` for the refund `reservation.saga_id`.
        False when the slot is taken or not that much is left (read the original again)."""
        ...


def _consumed(amount: int) -> dict[str, int]:
    return {"refunded_amount": amount}


def _released(amount: int) -> dict[str, int]:
    return {"refund_reserved": -amount}


class MongoRefundBook(MongoReservations):
    def __init__(self, collection: Any) -> None:
        super().__init__(collection, _consumed, _released)
        self._collection = collection

    async def reserve(
        self, original: Transfer, slot: str, reservation: Reservation, due_ms: int
    ) -> bool:
        for _ in range(2):
            result = await self._collection.update_one(
                {
                    "_id": original.id,
                    "kind": SagaKind.TRANSFER.value,
                    "state": SagaState.COMPLETED.value,
                    "refund_reserved": {"$lte": original.amount - reservation.amount},
                    f"reservations.{slot}": {"$exists": False},
                },
                {
                    "$set": {
                        f"reservations.{slot}": reservation.model_dump(mode="python"),
                        "reservations_due_ms": due_ms,
                    },
                    "$inc": {"refund_reserved": reservation.amount, "reservations_open": 1},
                    "$push": {"refund_ids": reservation.saga_id},
                },
            )
            if result.modified_count == 1:
                return True
            if not await self._adopt_legacy(original.id):
                return False
        return False

    async def _adopt_legacy(self, transfer_id: str) -> bool:
        """A transfer stored before partial refunds has no refund fields: give it its earlier
        refund (at most one then), so that the guard counts it. Completed or in-flight refunds
        count as spent: an old refund in flight has no reservation to give back."""
        stored = await self._collection.find_one(
            {"_id": transfer_id, "refund_reserved": {"$exists": False}}, {"_id": 1}
        )
        if stored is None:
            return False
        earlier = [
            doc
            async for doc in self._collection.find(
                {"refund_of": transfer_id, "state": {"$ne": SagaState.FAILED.value}},
                {"_id": 1, "amount": 1, "state": 1, "created_at": 1},
            )
            if doc["state"] != SagaState.COMPENSATED.value
        ]
        spent = sum(int(doc["amount"]) for doc in earlier)
        result = await self._collection.update_one(
            {"_id": transfer_id, "refund_reserved": {"$exists": False}},
            {
                "$set": {
                    "refund_reserved": spent,
                    "refunded_amount": spent,
                    "refund_ids": [doc["_id"] for doc in earlier],
                    "reservations": {},
                    "reservations_open": 0,
                }
            },
        )
        return bool(result.modified_count == 1)


def _consumed_in_memory(parent: Transfer, amount: int) -> dict[str, Any]:
    return {"refunded_amount": parent.refunded_amount + amount}


def _released_in_memory(parent: Transfer, amount: int) -> dict[str, Any]:
    return {"refund_reserved": parent.refund_reserved - amount}


class InMemoryRefundBook(InMemoryReservations):
    """The twin, writing the refund fields of the in-memory transfer repository's sagas."""

    def __init__(self, transfers: InMemoryTransferRepository) -> None:
        super().__init__(transfers.items, _consumed_in_memory, _released_in_memory)
        self._transfers = transfers

    async def reserve(
        self, original: Transfer, slot: str, reservation: Reservation, due_ms: int
    ) -> bool:
        stored = self._transfers.items.get(original.id)
        if (
            stored is None
            or stored.kind is not SagaKind.TRANSFER
            or stored.state is not SagaState.COMPLETED
            or slot in stored.reservations
            or stored.refund_reserved + reservation.amount > stored.amount
        ):
            return False
        self._transfers.items[original.id] = stored.model_copy(
            update={
                "reservations": {**stored.reservations, slot: reservation},
                "refund_reserved": stored.refund_reserved + reservation.amount,
                "reservations_open": stored.reservations_open + 1,
                "refund_ids": [*stored.refund_ids, reservation.saga_id],
            }
        )
        self.due_ms[original.id] = due_ms
        return True
