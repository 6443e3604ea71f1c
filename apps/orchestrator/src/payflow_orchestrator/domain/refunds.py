"""What a refund may be: part or all of what is left of a completed transfer, sent back by its
recipient, as often as something is left.

The share a refund takes is reserved on the original transfer (see `reservations`): the original
keeps `refund_reserved` (completed refunds plus those in flight) and `refunded_amount` (completed
ones), and a reservation succeeds only while `refund_reserved + amount <= amount`. A refund that
fails gives its share back. So the sum of completed and in-flight refunds never exceeds the
original, however many requests race.

Fees: a refund of a payment that carried a platform fee returns up to the gross amount from the
merchant's wallet; the platform keeps its fee (docs/phases/PHASE-9-MERCHANT-PAYMENTS.md).
"""

from __future__ import annotations

from payflow_orchestrator.domain.errors import RefundRefused
from payflow_orchestrator.domain.saga_machine import SagaKind, SagaState
from payflow_orchestrator.domain.transfer import Transfer

NOT_REFUNDABLE = "transfer_not_refundable"
EXCEEDS_REMAINING = "refund_exceeds_remaining"


def refundable_amount(original: Transfer) -> int:
    """What is left to refund: the amount less completed and in-flight refunds."""
    if original.kind is not SagaKind.TRANSFER or original.state is not SagaState.COMPLETED:
        return 0
    return max(0, original.amount - original.refund_reserved)


def refund_amount(original: Transfer, initiator_id: str, requested: int | None) -> int:
    """The amount a refund of `original` asked by `initiator_id` takes: `requested`, or all that
    is left when None. Raises `RefundRefused`."""
    if original.kind is not SagaKind.TRANSFER:
        raise RefundRefused(NOT_REFUNDABLE, "Only a transfer can be refunded.")
    if original.state is not SagaState.COMPLETED:
        raise RefundRefused(NOT_REFUNDABLE, "Only a completed transfer can be refunded.")
    if initiator_id not in original.owner_ids:
        raise RefundRefused(NOT_REFUNDABLE, "Only the recipient of a transfer can refund it.")
    remaining = refundable_amount(original)
    amount = remaining if requested is None else requested
    if amount <= 0 or amount > remaining:
        raise RefundRefused(
            EXCEEDS_REMAINING,
            f"At most {remaining} {original.currency} minor units of this transfer are left "
            "to refund (completed and in-flight refunds count).",
        )
    return amount
