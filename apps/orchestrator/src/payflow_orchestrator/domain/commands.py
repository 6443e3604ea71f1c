"""The concrete participant command for a saga step, and the stream it goes to."""

from __future__ import annotations

from payflow_contracts.saga import (
    CancelCredit,
    CreditWallet,
    DebitWallet,
    FaultInstruction,
    PostTopUp,
    PostTransfer,
    RefundWallet,
    ReversePosting,
    SagaCommand,
    SagaStep,
)
from payflow_contracts.streams import StreamNames
from payflow_orchestrator.domain.saga_machine import SagaKind
from payflow_orchestrator.domain.transfer import Transfer

WALLET_STEPS = frozenset(
    {
        SagaStep.DEBIT_SOURCE,
        SagaStep.CREDIT_DESTINATION,
        SagaStep.REFUND_SOURCE,
        SagaStep.CANCEL_CREDIT,
    }
)


def stream_for(step: SagaStep, streams: StreamNames) -> str:
    return streams.wallet_commands if step in WALLET_STEPS else streams.ledger_commands


def command_for(transfer: Transfer, step: SagaStep, faults_enabled: bool) -> SagaCommand:
    fault = transfer.fault_for(step) if faults_enabled else None
    instruction = FaultInstruction(rule_id=fault.rule_id, mode=fault.mode) if fault else None
    common = {
        "saga_id": transfer.id,
        "step": step,
        "amount": transfer.amount,
        "currency": transfer.currency,
        "saga_created_at": transfer.created_at,
    }
    source = transfer.source_wallet_id
    match step:
        case SagaStep.DEBIT_SOURCE:
            assert source is not None
            return DebitWallet(**common, wallet_id=source, fault=instruction)
        case SagaStep.POST_TRANSFER:
            assert source is not None
            return PostTransfer(
                **common,
                source_wallet_id=source,
                destination_wallet_id=transfer.destination_wallet_id,
                fee=transfer.fee,
                fault=instruction,
            )
        case SagaStep.POST_TOP_UP:
            return PostTopUp(**common, wallet_id=transfer.destination_wallet_id, fault=instruction)
        case SagaStep.CREDIT_DESTINATION:
            # The destination receives the amount less the fee (the fee account has the rest).
            return CreditWallet(
                **{**common, "amount": transfer.net_amount},
                wallet_id=transfer.destination_wallet_id,
                fault=instruction,
            )
        case SagaStep.REFUND_SOURCE:
            assert source is not None
            return RefundWallet(**common, wallet_id=source)
        case SagaStep.CANCEL_CREDIT:
            return CancelCredit(
                **{**common, "amount": transfer.net_amount},
                wallet_id=transfer.destination_wallet_id,
            )
        case SagaStep.REVERSE_POSTING:
            posting = (
                SagaStep.POST_TOP_UP if transfer.kind == SagaKind.TOP_UP else SagaStep.POST_TRANSFER
            )
            return ReversePosting(**common, reverses_step=posting)
    raise ValueError(f"no command for step {step}")
