"""The streams the orchestrator consumes: the participants' step replies, applied by the
coordinator."""

from __future__ import annotations

from redis.asyncio import Redis

from payflow_contracts.saga import StepReply
from payflow_contracts.streams import ORCHESTRATOR_GROUP
from payflow_messaging import BusSigner, ConsumerConfig, StreamConsumer
from payflow_orchestrator.coordinator import TransferCoordinator
from payflow_orchestrator.settings import OrchestratorSettings


def saga_replies(
    redis: Redis,
    settings: OrchestratorSettings,
    signer: BusSigner,
    coordinator: TransferCoordinator,
) -> StreamConsumer:
    """The consumer of `saga-replies`: every `saga.step_reply.v1` goes to the coordinator."""
    replies = StreamConsumer(
        redis,
        ConsumerConfig.from_settings(
            settings, stream=settings.streams.saga_replies, group=ORCHESTRATOR_GROUP
        ),
        signer,
    )
    replies.register(StepReply.MESSAGE_TYPE, coordinator.on_reply)
    return replies
