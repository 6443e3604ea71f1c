"""The ledger's side of the saga: ledger commands in from the stream, step replies out.

Sandbox faults are honoured outside production only: `reject` answers `ledger_rejected`
(recorded like a real refusal), `error` raises (the message stays pending, is retried, then
dead-lettered), `timeout` acknowledges and does nothing at all. Reversals never honour one.
"""

from __future__ import annotations

import logging

from payflow_contracts import Envelope
from payflow_contracts.faults import FaultAction, fault_action
from payflow_contracts.saga import (
    FaultInstruction,
    PostTopUp,
    PostTransfer,
    ReversePosting,
    StepReply,
)
from payflow_ledger.domain.journal import TransactionKind
from payflow_ledger.domain.postings import LedgerRecord, PostingRequest, ReversalRequest
from payflow_ledger.ledger_postings import LedgerPostings
from payflow_messaging import StreamConsumer, StreamPublisher

logger = logging.getLogger(__name__)


class SandboxFaultError(RuntimeError):
    """Raised on purpose by an `error` fault: the command is left pending for redelivery."""


class LedgerCommandHandlers:
    def __init__(
        self,
        postings: LedgerPostings,
        publisher: StreamPublisher,
        replies_stream: str,
        faults_enabled: bool,
    ) -> None:
        self._postings = postings
        self._publisher = publisher
        self._replies_stream = replies_stream
        self._faults_enabled = faults_enabled

    def register(self, consumer: StreamConsumer) -> None:
        consumer.register(PostTransfer.MESSAGE_TYPE, self.post_transfer)
        consumer.register(PostTopUp.MESSAGE_TYPE, self.post_top_up)
        consumer.register(ReversePosting.MESSAGE_TYPE, self.reverse_posting)

    async def post_transfer(self, envelope: Envelope) -> None:
        command = envelope.open(PostTransfer)
        await self._post(
            envelope,
            command,
            TransactionKind.TRANSFER,
            source=command.source_wallet_id,
            destination=command.destination_wallet_id,
            fee=command.fee,
        )

    async def post_top_up(self, envelope: Envelope) -> None:
        command = envelope.open(PostTopUp)
        await self._post(envelope, command, TransactionKind.TOP_UP, destination=command.wallet_id)

    async def _post(
        self,
        envelope: Envelope,
        command: PostTransfer | PostTopUp,
        kind: TransactionKind,
        *,
        destination: str,
        source: str | None = None,
        fee: int = 0,
    ) -> None:
        action = self._honoured(command.fault, command.operation_id)
        if action is None:
            return
        record = await self._postings.post(
            PostingRequest(
                saga_id=command.saga_id,
                step=command.step,
                kind=kind,
                amount=command.amount,
                currency=command.currency,
                destination=destination,
                source=source,
                fault_reject=action is FaultAction.REJECT,
                fee=fee,
            )
        )
        await self._reply(envelope, record)

    async def reverse_posting(self, envelope: Envelope) -> None:
        command = envelope.open(ReversePosting)
        record = await self._postings.reverse(
            ReversalRequest(
                saga_id=command.saga_id, step=command.step, reverses=command.reverses_step
            )
        )
        await self._reply(envelope, record)

    def _honoured(self, fault: FaultInstruction | None, operation: str) -> FaultAction | None:
        """The fault action to apply, or None when the command must be dropped (timeout)."""
        action = fault_action(
            fault.mode if fault else None, enabled=self._faults_enabled, compensation=False
        )
        if action is FaultAction.RAISE:
            raise SandboxFaultError(f"sandbox error fault on {operation}")
        if action is FaultAction.IGNORE_COMMAND:
            logger.info("sandbox timeout fault: %s ignored", operation)
            return None
        return action

    async def _reply(self, envelope: Envelope, record: LedgerRecord) -> None:
        reply = StepReply(
            saga_id=record.saga_id, step=record.step, outcome=record.outcome, reason=record.reason
        )
        await self._publisher.publish(
            self._replies_stream, reply, saga_id=record.saga_id, causation_id=envelope.message_id
        )
        logger.info(
            "%s: %s", record.operation_id, record.outcome, extra={"saga_id": record.saga_id}
        )
