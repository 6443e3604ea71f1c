"""The wallet's side of the saga: wallet commands in from the stream, step replies out.

Sandbox faults are honoured outside production only: `reject` answers the step's business
rejection (recorded like a real one), `error` raises (the message stays pending, is retried,
then dead-lettered), `timeout` acknowledges and does nothing at all.
"""

from __future__ import annotations

import logging

from payflow_contracts import Envelope
from payflow_contracts.faults import FaultAction, fault_action
from payflow_contracts.saga import (
    CancelCredit,
    CreditWallet,
    DebitWallet,
    FaultInstruction,
    RefundWallet,
    SagaCommand,
    SagaStep,
    StepReply,
)
from payflow_messaging import StreamConsumer, StreamPublisher
from payflow_wallet.domain.operations import OperationKind, OperationRecord, OperationRequest
from payflow_wallet.wallet_operations import WalletOperations

logger = logging.getLogger(__name__)


class SandboxFaultError(RuntimeError):
    """Raised on purpose by an `error` fault: the command is left pending for redelivery."""


class WalletCommandHandlers:
    def __init__(
        self,
        operations: WalletOperations,
        publisher: StreamPublisher,
        replies_stream: str,
        faults_enabled: bool,
    ) -> None:
        self._operations = operations
        self._publisher = publisher
        self._replies_stream = replies_stream
        self._faults_enabled = faults_enabled

    def register(self, consumer: StreamConsumer) -> None:
        consumer.register(DebitWallet.MESSAGE_TYPE, self.debit_wallet)
        consumer.register(CreditWallet.MESSAGE_TYPE, self.credit_wallet)
        consumer.register(RefundWallet.MESSAGE_TYPE, self.refund_wallet)
        consumer.register(CancelCredit.MESSAGE_TYPE, self.cancel_credit)

    async def debit_wallet(self, envelope: Envelope) -> None:
        command = envelope.open(DebitWallet)
        await self._run(envelope, command, OperationKind.DEBIT, command.wallet_id, None)

    async def credit_wallet(self, envelope: Envelope) -> None:
        command = envelope.open(CreditWallet)
        await self._run(envelope, command, OperationKind.CREDIT, command.wallet_id, None)

    async def refund_wallet(self, envelope: Envelope) -> None:
        command = envelope.open(RefundWallet)
        await self._run(
            envelope, command, OperationKind.REFUND, command.wallet_id, command.refunds_step
        )

    async def cancel_credit(self, envelope: Envelope) -> None:
        command = envelope.open(CancelCredit)
        await self._run(
            envelope, command, OperationKind.CANCEL_CREDIT, command.wallet_id, command.cancels_step
        )

    async def _run(
        self,
        envelope: Envelope,
        command: SagaCommand,
        kind: OperationKind,
        wallet_id: str,
        compensates: SagaStep | None,
    ) -> None:
        action = self._fault_action(kind, command.fault)
        if action is FaultAction.IGNORE_COMMAND:
            logger.info(
                "sandbox timeout fault: %s ignored",
                command.operation_id,
                extra={"saga_id": command.saga_id},
            )
            return
        if action is FaultAction.RAISE:
            raise SandboxFaultError(f"sandbox error fault on {command.operation_id}")
        request = OperationRequest(
            kind=kind,
            saga_id=command.saga_id,
            step=command.step,
            wallet_id=wallet_id,
            amount=command.amount,
            currency=command.currency,
            compensates=compensates,
            fault_reject=action is FaultAction.REJECT,
        )
        record = await self._operations.settle(request)
        await self._reply(envelope, record)

    def _fault_action(self, kind: OperationKind, fault: FaultInstruction | None) -> FaultAction:
        compensation = kind in (OperationKind.REFUND, OperationKind.CANCEL_CREDIT)
        return fault_action(
            fault.mode if fault else None,
            enabled=self._faults_enabled,
            compensation=compensation,
        )

    async def _reply(self, envelope: Envelope, record: OperationRecord) -> None:
        reply = StepReply(
            saga_id=record.saga_id, step=record.step, outcome=record.outcome, reason=record.reason
        )
        await self._publisher.publish(
            self._replies_stream,
            reply,
            saga_id=record.saga_id,
            causation_id=envelope.message_id,
        )
        logger.info(
            "%s %s: %s",
            record.kind,
            record.operation_id,
            record.outcome,
            extra={"saga_id": record.saga_id, "wallet_id": record.wallet_id},
        )
