"""What a refund saga may be: the whole of a completed transfer, sent back, at most once.

The gateway checks this too, but the orchestrator owns the transfers, so it does not take the
caller's word: `refund_of` must name a completed `transfer` whose wallets, amount and currency the
refund mirrors, and the unique `one_refund_per_transfer` index of the transfers collection keeps a
second refund of the same transfer from being stored, whatever its idempotency key.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from payflow_orchestrator.coordinator import TransferRequest
from payflow_orchestrator.domain.saga_machine import SagaKind, SagaState
from payflow_orchestrator.domain.transfer import Transfer
from payflow_orchestrator.repository import TransferDocument, TransferRepository
from payflow_service import ProblemError


def not_refundable(detail: str) -> ProblemError:
    return ProblemError(422, "transfer_not_refundable", detail)


class RefundRules:
    def __init__(self, transfers: TransferRepository, collection: Any) -> None:
        self._transfers = transfers
        self._collection = collection

    async def check(self, refund: TransferRequest) -> None:
        """Raises 422 `transfer_not_refundable` unless `refund` returns a completed transfer."""
        assert refund.refund_of is not None
        original = await self._transfers.get(refund.refund_of)
        if original is None or original.kind is not SagaKind.TRANSFER:
            raise not_refundable("refund_of does not name a transfer.")
        if original.state is not SagaState.COMPLETED:
            raise not_refundable("Only a completed transfer can be refunded.")
        mirrored = (
            refund.source_wallet_id == original.destination_wallet_id
            and refund.destination_wallet_id == original.source_wallet_id
            and refund.amount == original.amount
            and refund.currency == original.currency
        )
        if not mirrored:
            raise not_refundable(
                "A refund returns the whole amount from the recipient's wallet to the sender's."
            )

    async def refund_of(self, transfer_id: str) -> Transfer | None:
        """The refund already stored for `transfer_id`, if any."""
        found = await self._collection.find_one({"refund_of": transfer_id}, {"_id": 1})
        return await self._transfers.get(found["_id"]) if found else None


def refund_rules(request: Request) -> RefundRules:
    transfers: TransferRepository = request.app.state.runtime.components["transfers"]
    return RefundRules(transfers, TransferDocument.get_pymongo_collection())


Refunds = Annotated[RefundRules, Depends(refund_rules)]
