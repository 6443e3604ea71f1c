"""The transfer resource: one typed model from the orchestrator's decision to every reader.

The orchestrator builds a `TransferView` from its saga (internal API, live channel, domain
events); the gateway answers `TransferPublic` (the view without whom it concerns); SSE frames and
webhook payloads carry the same fields. Readers of stored events accept documents written before
the merchant fields existed (defaults below).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

TransferKind = Literal["transfer", "top_up", "refund"]
TransferStatus = Literal["pending", "processing", "completed", "failed"]

TRANSFER_EXAMPLE: dict[str, Any] = {
    "id": "trf_01JDX8Q7M5V4Z6K3R2N1P0ABCD",
    "kind": "transfer",
    "status": "completed",
    "state": "completed",
    "amount": 2500,
    "fee": 0,
    "net_amount": 2500,
    "currency": "EUR",
    "source_wallet_id": "wal_01JDX8M1A2B3C4D5E6F7G8H9J0",
    "destination_wallet_id": "wal_01JDX8M9Z8Y7X6W5V4T3S2R1Q0",
    "description": "Dinner, split",
    "metadata": {"order": "A-1042"},
    "failure_code": None,
    "failure_message": None,
    "compensated": False,
    "created_at": "2026-12-01T09:30:00.120000Z",
    "updated_at": "2026-12-01T09:30:00.410000Z",
    "completed_at": "2026-12-01T09:30:00.410000Z",
    "history": [
        {
            "state": "debiting_source",
            "at": "2026-12-01T09:30:00.120000Z",
            "reason": "transfer accepted",
        },
        {
            "state": "posting_transfer",
            "at": "2026-12-01T09:30:00.250000Z",
            "reason": "source debited",
        },
        {"state": "crediting_destination", "at": "2026-12-01T09:30:00.330000Z", "reason": "posted"},
        {
            "state": "completed",
            "at": "2026-12-01T09:30:00.410000Z",
            "reason": "destination credited",
        },
    ],
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "refund_of": None,
    "payment_link_id": None,
    "refunded_amount": 0,
    "refunds": [],
}


class TransferHistoryEntry(BaseModel):
    """One state the saga went through, when, and why (for failures and compensations)."""

    model_config = ConfigDict(frozen=True)

    state: str
    at: datetime
    reason: str


class TransferPublic(BaseModel):
    """A transfer, top-up or refund as the public API shows it: a saga whose `history` lists
    every state it went through. Amounts are integers of minor units of `currency`."""

    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [TRANSFER_EXAMPLE]})

    id: str
    kind: TransferKind
    status: TransferStatus = Field(description="`pending`, `processing`, `completed` or `failed`")
    state: str = Field(description="The saga state, e.g. `crediting_destination`")
    amount: int = Field(description="Minor units of `currency`")
    fee: int = Field(default=0, description="The platform's fee out of `amount` (payment links)")
    net_amount: int = Field(description="What the destination received: `amount - fee`")
    currency: str
    source_wallet_id: str | None
    destination_wallet_id: str
    description: str | None
    metadata: dict[str, str]
    failure_code: str | None
    failure_message: str | None
    compensated: bool
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    history: list[TransferHistoryEntry]
    trace_id: str | None
    refund_of: str | None
    payment_link_id: str | None = Field(
        default=None, description="For a payment of a payment link: the link"
    )
    refunded_amount: int = Field(default=0, description="The sum of its completed refunds")
    refunds: list[str] = Field(
        default_factory=list, description="Every refund started for it, oldest first"
    )

    @model_validator(mode="before")
    @classmethod
    def _net_amount_of_older_transfers(cls, data: Any) -> Any:
        if isinstance(data, dict) and "net_amount" not in data and "amount" in data:
            return {**data, "net_amount": data["amount"] - data.get("fee", 0)}
        return data


class TransferView(TransferPublic):
    """The orchestrator's internal view: the public resource plus whom it concerns (the
    gateway's ownership check); never shown to clients."""

    owner_ids: list[str] = Field(default_factory=list)
    initiator_id: str | None = None

    def public(self) -> TransferPublic:
        return TransferPublic.model_validate(self.model_dump(exclude={"owner_ids", "initiator_id"}))
