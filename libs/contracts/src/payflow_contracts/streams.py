"""Every Redis Stream, consumer group and channel name in one place.

Names hang off a prefix (`PAYFLOW_STREAM_PREFIX`, default `payflow`) so that test runs sharing one
Redis server never see each other's messages.
"""

from __future__ import annotations

from dataclasses import dataclass

DEAD_LETTER_SUFFIX = ":dead"

WALLET_GROUP = "wallet"
LEDGER_GROUP = "ledger"
ORCHESTRATOR_GROUP = "orchestrator"
WEBHOOKS_GROUP = "webhooks"


@dataclass(frozen=True)
class StreamNames:
    prefix: str = "payflow"

    @property
    def wallet_commands(self) -> str:
        return f"{self.prefix}:stream:wallet-commands"

    @property
    def ledger_commands(self) -> str:
        return f"{self.prefix}:stream:ledger-commands"

    @property
    def saga_replies(self) -> str:
        return f"{self.prefix}:stream:saga-replies"

    @property
    def transfer_events(self) -> str:
        return f"{self.prefix}:stream:transfer-events"

    def transfer_channel(self, transfer_id: str) -> str:
        """Pub/Sub channel for live state changes of one transfer (loss is harmless: SSE only)."""
        return f"{self.prefix}:live:transfer:{transfer_id}"

    def key(self, name: str) -> str:
        """Any other Redis key of the system (ARQ queue names, locks)."""
        return f"{self.prefix}:{name}"


def dead_letter_stream(stream: str) -> str:
    return stream + DEAD_LETTER_SUFFIX
