"""The wallet's side of the saga: wallet commands in from the stream, step replies out.

Sandbox faults are honoured outside production only (`payflow_messaging.participant`): `reject`
answers the step's business rejection (recorded like a real one), `error` raises (the message
stays pending, is retried, then dead-lettered), `timeout` acknowledges and does nothing at all.
"""

from __future__ import annotations

from payflow_contracts import Envelope
from payflow_contracts.clock import epoch_millis
from payflow_contracts.faults import FaultAction
from payflow_contracts.saga import (
    CancelCredit,
    CreditWallet,
    DebitWallet,
    RefundWallet,
    SagaCommand,
    SagaStep,
)
from payflow_messaging import StreamConsumer
from payflow_messaging.participant import SagaParticipant
from payflow_wallet.domain.operations import OperationKind, OperationRequest
from payflow_wallet.wallet_operations import WalletOperations

_COMPENSATIONS = frozenset({OperationKind.REFUND, OperationKind.CANCEL_CREDIT})


class WalletCommandHandlers:
    def __init__(self, operations: WalletOperations, participant: SagaParticipant) -> None:
        self._operations = operations
        self._participant = participant

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
        action = self._participant.honour(command, compensation=kind in _COMPENSATIONS)
        if action is None:
            return
        request = OperationRequest(
            kind=kind,
            saga_id=command.saga_id,
            step=command.step,
            wallet_id=wallet_id,
            amount=command.amount,
            currency=command.currency,
            compensates=compensates,
            fault_reject=action is FaultAction.REJECT,
            issued_ms=(epoch_millis(command.saga_created_at) if command.saga_created_at else None),
        )
        record = await self._operations.settle(request)
        await self._participant.reply(
            envelope, record, wallet_id=record.wallet_id, operation_kind=record.kind.value
        )
