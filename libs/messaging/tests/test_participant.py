"""The saga participants' shared shell: which sandbox faults are honoured, and the step reply it
publishes (signed, caused by the command) on a real Redis stream."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from payflow_contracts import Envelope
from payflow_contracts.faults import FaultAction
from payflow_contracts.saga import DebitWallet, FaultInstruction, SagaStep, StepOutcome, StepReply
from payflow_messaging import BusSigner, StreamPublisher
from payflow_messaging.participant import SagaParticipant, SandboxFaultError
from payflow_messaging.publisher import ENVELOPE_FIELD

KEY = "participant-bus-key-" + "c" * 32


def debit(mode: str | None) -> DebitWallet:
    fault = FaultInstruction(rule_id="flt_1", mode=mode) if mode else None  # type: ignore[arg-type]
    return DebitWallet(
        saga_id="tr_1",
        step=SagaStep.DEBIT_SOURCE,
        amount=100,
        currency="EUR",
        wallet_id="wal_1",
        fault=fault,
    )


def shell(enabled: bool) -> SagaParticipant:
    return SagaParticipant(None, "replies", faults_enabled=enabled)  # type: ignore[arg-type]


def test_sandbox_faults_are_honoured_only_when_enabled_and_never_on_compensations() -> None:
    sandbox = shell(enabled=True)
    assert sandbox.honour(debit(None), compensation=False) is FaultAction.NONE
    assert sandbox.honour(debit("reject"), compensation=False) is FaultAction.REJECT
    assert sandbox.honour(debit("timeout"), compensation=False) is None
    with pytest.raises(SandboxFaultError):
        sandbox.honour(debit("error"), compensation=False)
    for mode in ("reject", "timeout", "error"):
        assert sandbox.honour(debit(mode), compensation=True) is FaultAction.NONE
        assert shell(enabled=False).honour(debit(mode), compensation=False) is FaultAction.NONE


@dataclass(frozen=True)
class Decision:
    saga_id: str
    step: SagaStep
    operation_id: str
    outcome: StepOutcome
    reason: str | None


@pytest.mark.integration
async def test_the_reply_is_published_signed_and_caused_by_the_command(
    redis_client: Any, unique: str
) -> None:
    stream = f"replies-{unique}"
    signer = BusSigner([KEY])
    participant = SagaParticipant(
        StreamPublisher(redis_client, signer), stream, faults_enabled=False
    )
    command = Envelope.wrap(debit(None), saga_id="tr_1")
    await participant.reply(
        command,
        Decision("tr_1", SagaStep.DEBIT_SOURCE, "tr_1:debit_source", StepOutcome.DEBITED, None),
        wallet_id="wal_1",
    )
    [(_, fields)] = await redis_client.xrange(stream)
    envelope = Envelope.from_wire(fields[ENVELOPE_FIELD])
    assert envelope.causation_id == command.message_id
    reply = envelope.open(StepReply)
    assert (reply.saga_id, reply.step, reply.outcome) == (
        "tr_1",
        SagaStep.DEBIT_SOURCE,
        StepOutcome.DEBITED,
    )
