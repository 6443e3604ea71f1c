"""Answering a money-moving request: 202 with the saga as it stands, or, with `Prefer: wait=N`,
200 once the transfer is terminal within N seconds (woken by the orchestrator's live notice)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from payflow_contracts.transfers import TransferPublic
from payflow_gateway.handlers import LiveTransfers
from payflow_gateway.ports import PaymentServices

TERMINAL = frozenset({"completed", "failed"})
MAX_WAIT_S = 10.0

INTERNAL_FIELDS: set[str] = {"owner_ids", "initiator_id"}
"""The fields of the orchestrator's `TransferView` never shown to clients."""


def public_body(transfer: TransferPublic) -> dict[str, Any]:
    """The transfer resource as JSON: the orchestrator's view less whom it concerns."""
    return transfer.model_dump(mode="json", exclude=INTERNAL_FIELDS)


def transfer_filters(
    owner_id: str,
    *,
    status: str | None,
    wallet_id: str | None,
    payment_link_id: str | None,
    created_gte: datetime | None,
    created_lte: datetime | None,
) -> dict[str, Any]:
    """The orchestrator's list query for a caller's transfers, with the filters that are set."""
    params: dict[str, Any] = {"owner_id": owner_id}
    for name, value in (
        ("status", status),
        ("wallet_id", wallet_id),
        ("payment_link_id", payment_link_id),
        ("created_gte", created_gte.isoformat() if created_gte else None),
        ("created_lte", created_lte.isoformat() if created_lte else None),
    ):
        if value is not None:
            params[name] = value
    return params


def wait_seconds(prefer: str) -> float:
    """The N of a `Prefer: wait=N` header, capped at `MAX_WAIT_S`; 0 without one."""
    for part in prefer.split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "wait":
            try:
                return max(0.0, min(float(value.strip()), MAX_WAIT_S))
            except ValueError:
                return 0.0
    return 0.0


async def await_terminal(
    services: PaymentServices, live: LiveTransfers, transfer: TransferPublic, seconds: float
) -> TransferPublic:
    """Woken by the orchestrator's live notice; one read at the end covers a lost notice."""
    if transfer.status in TERMINAL:
        return transfer
    heard = await live.terminal(transfer.id, seconds)
    if heard is not None:
        return heard
    latest = await services.transfer(transfer.id)
    return latest if latest is not None else transfer


async def answer(
    services: PaymentServices, live: LiveTransfers, transfer: TransferPublic, wait: float
) -> tuple[int, dict[str, Any]]:
    """202 with the saga as it stands; with `Prefer: wait=N`, 200 once terminal within N s."""
    if not wait:
        return 202, public_body(transfer)
    transfer = await await_terminal(services, live, transfer, wait)
    return (200 if transfer.status in TERMINAL else 202), public_body(transfer)
