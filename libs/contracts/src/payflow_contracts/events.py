"""Domain events about transfers, published on the transfer event stream."""

from __future__ import annotations

import hashlib
from typing import Literal

from payflow_contracts.envelope import MessagePayload
from payflow_contracts.transfers import TransferPublic

TransferEventType = Literal[
    "transfer.created",
    "transfer.completed",
    "transfer.failed",
    "transfer.refunded",
    "payment_link.paid",
]
"""Event types. `transfer.refunded` is about the transfer a refund returned (its `refunded_amount` counts the
refund); its id derives from the refund, so each refund gets its own event. `payment_link.paid` is
about a completed payment of a payment link (the transfer, with its `payment_link_id`)."""


def transfer_event_id(transfer_id: str, event_type: str) -> str:
    """A stable event id: the same transfer and type always give the same id, so republishing
    after a crash is deduplicated by every consumer."""
    digest = hashlib.sha256(f"{transfer_id}|{event_type}".encode()).hexdigest()[:24]
    return f"evt_{digest}"


class TransferEvent(MessagePayload):
    MESSAGE_TYPE = "transfer.event.v1"
    event_id: str
    event_type: TransferEventType
    transfer_id: str
    owner_ids: list[str]
    """Users whose wallets the transfer touches: who may see the event and receive it."""
    transfer: TransferPublic
    """The public transfer resource as `GET /v1/transfers/{id}` would show it."""
