"""A stored domain event and the exact body every delivery of it carries."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from payflow_contracts.paging import PagePosition
from payflow_webhooks.domain.moments import rfc3339


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookEvent:
    id: str
    type: str
    transfer_id: str
    owner_ids: tuple[str, ...]
    """Users whose wallets the transfer touches: the only ones who see or receive the event."""
    data: dict[str, Any]
    created_at: datetime

    @property
    def position(self) -> PagePosition:
        """Where the event stands in each owner's newest-first list."""
        return PagePosition(self.created_at, self.id)

    def visible_to(self, owner_id: str) -> bool:
        return owner_id in self.owner_ids


def event_view(event: WebhookEvent) -> dict[str, Any]:
    """The event resource: `{id, type, created_at, data}`, the same as a delivery's body."""
    return {
        "id": event.id,
        "type": event.type,
        "created_at": rfc3339(event.created_at),
        "data": event.data,
    }


def delivery_body(event: WebhookEvent) -> bytes:
    """The raw body that is signed and sent; compact JSON, identical on every retry."""
    return json.dumps(event_view(event), separators=(",", ":"), ensure_ascii=False).encode()
