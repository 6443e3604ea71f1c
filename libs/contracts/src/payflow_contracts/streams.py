"""Every Redis Stream and channel name in one place (as arq keeps its key prefixes together)."""

WALLET_COMMANDS = "payflow:stream:wallet-commands"
LEDGER_COMMANDS = "payflow:stream:ledger-commands"
SAGA_REPLIES = "payflow:stream:saga-replies"
TRANSFER_EVENTS = "payflow:stream:transfer-events"

DEAD_LETTER_SUFFIX = ":dead"

WALLET_GROUP = "wallet"
LEDGER_GROUP = "ledger"
ORCHESTRATOR_GROUP = "orchestrator"
WEBHOOKS_GROUP = "webhooks"


def dead_letter_stream(stream: str) -> str:
    return stream + DEAD_LETTER_SUFFIX


def transfer_channel(transfer_id: str) -> str:
    """Pub/Sub channel for live state changes of one transfer (loss is harmless: SSE only)."""
    return f"payflow:live:transfer:{transfer_id}"
