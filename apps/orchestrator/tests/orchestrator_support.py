"""Builders shared by the orchestrator's tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from payflow_orchestrator.domain.saga_machine import SagaKind
from payflow_orchestrator.domain.transfer import TimingPolicy, Transfer, open_transfer

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
POLICY = TimingPolicy(step_timeout=timedelta(seconds=5), forward_max_sends=3)


def a_transfer(
    transfer_id: str = "tr_1",
    *,
    key: str = "key-1",
    initiator: str = "usr_a",
    at: datetime = T0,
    kind: SagaKind = SagaKind.TRANSFER,
    source: str | None = "wal_a",
    destination: str = "wal_b",
) -> Transfer:
    return open_transfer(
        transfer_id=transfer_id,
        kind=kind,
        initiator_id=initiator,
        idempotency_key=key,
        source_wallet_id=source,
        destination_wallet_id=destination,
        amount=100,
        currency="USD",
        description=None,
        metadata={},
        owner_ids=[initiator, "usr_b"],
        now=at,
        policy=POLICY,
    )
