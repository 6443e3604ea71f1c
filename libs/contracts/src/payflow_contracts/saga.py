"""Saga commands and replies exchanged between the orchestrator and its participants.

Every command names its saga and step; `operation_id` (`<saga_id>:<step>`) is the key that
participants deduplicate on, so each step takes effect at most once per saga (guarantee 3).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, Field

from payflow_contracts.envelope import MessagePayload
from payflow_contracts.money import CurrencyCode, NonNegativeMinorUnits, PositiveMinorUnits


class SagaStep(StrEnum):
    """The participant steps a saga can issue. The value is part of the dedup key."""

    DEBIT_SOURCE = "debit_source"
    POST_TRANSFER = "post_transfer"
    POST_TOP_UP = "post_top_up"
    CREDIT_DESTINATION = "credit_destination"
    REVERSE_POSTING = "reverse_posting"
    REFUND_SOURCE = "refund_source"
    CANCEL_CREDIT = "cancel_credit"


class StepOutcome(StrEnum):
    """What a participant answers for a step. Recorded once and replayed on every repeat."""

    DEBITED = "debited"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    SOURCE_UNAVAILABLE = "source_unavailable"
    POSTED = "posted"
    LEDGER_REJECTED = "ledger_rejected"
    CREDITED = "credited"
    DESTINATION_UNAVAILABLE = "destination_unavailable"
    REVERSED = "reversed"
    POSTING_CANCELLED = "posting_cancelled"
    REFUNDED = "refunded"
    DEBIT_CANCELLED = "debit_cancelled"
    CREDIT_CANCELLED = "credit_cancelled"
    CREDIT_ALREADY_APPLIED = "credit_already_applied"


FaultMode = Literal["reject", "error", "timeout"]


class FaultInstruction(MessagePayload):
    """A sandbox fault the orchestrator matched for this step; honoured only outside production."""

    rule_id: str
    mode: FaultMode


def operation_id(saga_id: str, step: SagaStep | str) -> str:
    return f"{saga_id}:{step}"


class SagaCommand(MessagePayload):
    saga_id: str
    step: SagaStep
    amount: PositiveMinorUnits
    currency: CurrencyCode
    fault: FaultInstruction | None = None
    saga_created_at: AwareDatetime | None = None
    """When the saga began: the same on every resend of every step of the saga, so that a
    participant can tell an operation issued after everything it has forgotten (the wallet's
    pruned marks) from one that may be among it. None from a sender that does not say."""

    @property
    def operation_id(self) -> str:
        return operation_id(self.saga_id, self.step)


class DebitWallet(SagaCommand):
    MESSAGE_TYPE = "wallet.debit.v1"
    wallet_id: str


class CreditWallet(SagaCommand):
    MESSAGE_TYPE = "wallet.credit.v1"
    wallet_id: str


class RefundWallet(SagaCommand):
    """Compensating credit to the sender. Never fails for business reasons.

    If the debit it compensates (`refunds_step`) never took effect, the refund records the debit
    as cancelled instead, so that a late debit is refused (guarantee 6).
    """

    MESSAGE_TYPE = "wallet.refund.v1"
    wallet_id: str
    refunds_step: SagaStep = SagaStep.DEBIT_SOURCE


class CancelCredit(SagaCommand):
    """Settles a credit whose reply never came: cancels it if it has not happened yet."""

    MESSAGE_TYPE = "wallet.cancel_credit.v1"
    wallet_id: str
    cancels_step: SagaStep = SagaStep.CREDIT_DESTINATION


class PostTransfer(SagaCommand):
    """Posts `amount` out of the source; the destination receives `amount - fee` and the
    currency's fee account `fee` (one journal transaction, three entries when there is a fee)."""

    MESSAGE_TYPE = "ledger.post_transfer.v1"
    source_wallet_id: str
    destination_wallet_id: str
    fee: NonNegativeMinorUnits = 0


class PostTopUp(SagaCommand):
    MESSAGE_TYPE = "ledger.post_top_up.v1"
    wallet_id: str


class ReversePosting(SagaCommand):
    """Reverses a posting; if the posting never happened, records it as cancelled instead."""

    MESSAGE_TYPE = "ledger.reverse.v1"
    reverses_step: SagaStep


class StepReply(MessagePayload):
    MESSAGE_TYPE = "saga.step_reply.v1"
    saga_id: str
    step: SagaStep
    outcome: StepOutcome
    reason: str | None = Field(default=None, max_length=500)
