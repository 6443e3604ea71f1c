"""What every saga participant (wallet, ledger) does around its own decision.

A participant receives a command, honours its sandbox fault, decides (its own code), and answers
the orchestrator with one `StepReply`. This module is that shared shell:

- `honour(command, compensation=...)`: the fault to apply. `error` raises `SandboxFaultError`
  (the message stays pending, is retried, then dead-lettered); `timeout` returns None, meaning
  acknowledge and do nothing at all (no effect, no record, no reply); `reject` returns
  `FaultAction.REJECT` for the participant to record as a real business refusal. Outside
  sandbox mode, and on compensations (which never give up), nothing is honoured.
- `reply(envelope, outcome)`: the step reply, caused by the command's envelope.

Redelivery is safe because the participant's decision is recorded once under the operation id
(`saga_id:step`) and a repeated command answers the recorded outcome again.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from payflow_contracts import Envelope
from payflow_contracts.faults import FaultAction, fault_action
from payflow_contracts.saga import SagaCommand, SagaStep, StepOutcome, StepReply
from payflow_messaging.publisher import StreamPublisher

logger = logging.getLogger(__name__)


class SandboxFaultError(RuntimeError):
    """Raised on purpose by an `error` fault: the command is left pending for redelivery."""


class StepDecision(Protocol):
    """A participant's recorded answer to one step."""

    @property
    def saga_id(self) -> str: ...

    @property
    def step(self) -> SagaStep: ...

    @property
    def operation_id(self) -> str: ...

    @property
    def outcome(self) -> StepOutcome: ...

    @property
    def reason(self) -> str | None: ...


class SagaParticipant:
    def __init__(
        self, publisher: StreamPublisher, replies_stream: str, *, faults_enabled: bool
    ) -> None:
        self._publisher = publisher
        self._replies_stream = replies_stream
        self._faults_enabled = faults_enabled

    def honour(self, command: SagaCommand, *, compensation: bool) -> FaultAction | None:
        """The fault action to apply to `command`, or None when it must be dropped unanswered."""
        fault = command.fault
        action = fault_action(
            fault.mode if fault else None,
            enabled=self._faults_enabled,
            compensation=compensation,
        )
        if action is FaultAction.RAISE:
            raise SandboxFaultError(f"sandbox error fault on {command.operation_id}")
        if action is FaultAction.IGNORE_COMMAND:
            logger.info(
                "sandbox timeout fault: %s ignored",
                command.operation_id,
                extra={"saga_id": command.saga_id},
            )
            return None
        return action

    async def reply(self, envelope: Envelope, decision: StepDecision, **log_extra: Any) -> None:
        """Answer the orchestrator with `decision`, caused by the command in `envelope`."""
        reply = StepReply(
            saga_id=decision.saga_id,
            step=decision.step,
            outcome=decision.outcome,
            reason=decision.reason,
        )
        await self._publisher.publish(
            self._replies_stream,
            reply,
            saga_id=decision.saga_id,
            causation_id=envelope.message_id,
        )
        logger.info(
            "%s: %s",
            decision.operation_id,
            decision.outcome,
            extra={"saga_id": decision.saga_id, **log_extra},
        )
