"""Refunds: part or all of what is left of a completed transfer, returned by its recipient.

The orchestrator owns the transfers, so it builds the refund itself from the original (wallets
swapped, same currency, the original's owners) rather than taking the caller's word, and reserves
its share on the original before the refund saga exists (`refund_book.py`,
`domain/reservations.py`). The refund saga's id is chosen at reservation time and its
idempotency key is the client's, so:

- a retry with the same key answers the same refund (found by key, or by its reservation when the
  first request died between reserving and starting the saga);
- a request with another key is another refund, refused with `refund_exceeds_remaining` once
  completed and in-flight refunds cover the original.
"""

from __future__ import annotations

from collections.abc import Callable

from payflow_contracts import new_id
from payflow_orchestrator.coordinator import (
    TransferCoordinator,
    TransferRequest,
    request_from_json,
    request_to_json,
)
from payflow_orchestrator.domain.errors import (
    IdempotencyKeyReused,
    RefundContention,
    TransferNotFound,
)
from payflow_orchestrator.domain.refunds import refund_amount
from payflow_orchestrator.domain.reservations import Reservation, slot_for
from payflow_orchestrator.domain.saga_machine import SagaKind
from payflow_orchestrator.domain.transfer import Transfer
from payflow_orchestrator.ports import RefundBook, TransferRepository
from payflow_orchestrator.reservations import now_ms

MAX_ATTEMPTS = 20


class RefundDesk:
    def __init__(
        self,
        transfers: TransferRepository,
        book: RefundBook,
        coordinator: TransferCoordinator,
        grace_ms: int,
        clock_ms: Callable[[], int] = now_ms,
    ) -> None:
        self._transfers = transfers
        self._book = book
        self._coordinator = coordinator
        self._grace_ms = grace_ms
        self._clock_ms = clock_ms

    async def refund(
        self, original_id: str, initiator_id: str, idempotency_key: str, amount: int | None
    ) -> tuple[Transfer, bool]:
        """Start (or find) the refund of `amount` (all that is left when None) of `original_id`
        asked by `initiator_id` with `idempotency_key`. Returns (refund, created).

        Raises `TransferNotFound`, `RefundRefused`, `IdempotencyKeyReused`, `RefundContention`."""
        existing = await self._transfers.find_by_key(initiator_id, idempotency_key)
        if existing is not None:
            _same_refund(existing.refund_of, existing.amount, original_id, amount)
            return existing, False
        slot = slot_for(initiator_id, idempotency_key)
        for _ in range(MAX_ATTEMPTS):
            original = await self._transfers.get(original_id)
            if original is None:
                raise TransferNotFound(original_id)
            held = original.reservations.get(slot)
            if held is not None:  # this key reserved already (a concurrent or a dead request)
                _same_refund(original_id, held.amount, original_id, amount)
                return await self._coordinator.start(request_from_json(held.request))
            share = refund_amount(original, initiator_id, amount)
            request = _refund_request(original, initiator_id, idempotency_key, share)
            now = self._clock_ms()
            reservation = Reservation(
                saga_id=str(request.transfer_id),
                amount=share,
                reserved_at_ms=now,
                request=request_to_json(request),
            )
            if await self._book.reserve(original, slot, reservation, now + self._grace_ms):
                return await self._coordinator.start(request)
            # Lost the guarded update: another refund took a share, or this key's retry took the
            # slot. Decide again on a fresh read.
        raise RefundContention(original_id)


def _same_refund(
    refund_of: str | None, reserved: int, original_id: str, requested: int | None
) -> None:
    """A repeated key must repeat the request: the same transfer, and the same amount when one
    was given (without one, it means whatever the first request took)."""
    if refund_of != original_id or (requested is not None and requested != reserved):
        raise IdempotencyKeyReused(original_id)


def _refund_request(
    original: Transfer, initiator_id: str, idempotency_key: str, amount: int
) -> TransferRequest:
    assert original.source_wallet_id is not None  # a completed `transfer` has a source
    return TransferRequest(
        kind=SagaKind.REFUND,
        initiator_id=initiator_id,
        idempotency_key=idempotency_key,
        source_wallet_id=original.destination_wallet_id,
        destination_wallet_id=original.source_wallet_id,
        amount=amount,
        currency=original.currency,
        description=f"refund of {original.id}",
        metadata={},
        owner_ids=list(original.owner_ids),
        refund_of=original.id,
        transfer_id=new_id("tr"),
    )
