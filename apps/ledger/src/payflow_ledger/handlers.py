"""The ledger's side of the saga: ledger commands in from the stream, step replies out.

Sandbox faults are honoured outside production only (`payflow_messaging.participant`): `reject`
answers `ledger_rejected` (recorded like a real refusal), `error` raises (the message stays
pending, is retried, then dead-lettered), `timeout` acknowledges and does nothing at all.
Reversals are compensations and never honour one.
"""

from __future__ import annotations

from payflow_contracts import Envelope
from payflow_contracts.faults import FaultAction
from payflow_contracts.saga import PostTopUp, PostTransfer, ReversePosting
from payflow_ledger.domain.journal import TransactionKind
from payflow_ledger.domain.postings import PostingRequest, ReversalRequest
from payflow_ledger.ledger_postings import LedgerPostings
from payflow_messaging import StreamConsumer
from payflow_messaging.participant import SagaParticipant


class LedgerCommandHandlers:
    def __init__(self, postings: LedgerPostings, participant: SagaParticipant) -> None:
        self._postings = postings
        self._participant = participant

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
        action = self._participant.honour(command, compensation=False)
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
        await self._participant.reply(envelope, record)

    async def reverse_posting(self, envelope: Envelope) -> None:
        # A compensation: no fault is honoured (`honour(..., compensation=True)` is always none).
        command = envelope.open(ReversePosting)
        record = await self._postings.reverse(
            ReversalRequest(
                saga_id=command.saga_id, step=command.step, reverses=command.reverses_step
            )
        )
        await self._participant.reply(envelope, record)
