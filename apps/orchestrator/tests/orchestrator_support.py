"""Builders shared by the orchestrator's tests.

No calendar date here: the repository contract writes to a real store and takes its times from the
suite's `now` fixture; the pure unit tests pin their own instant.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from payflow_orchestrator.domain.saga_machine import SagaKind
from payflow_orchestrator.domain.transfer import TimingPolicy, Transfer, open_transfer

POLICY = TimingPolicy(step_timeout=timedelta(seconds=5), forward_max_sends=3)


def a_transfer(
    transfer_id: str = "tr_1",
    *,
    at: datetime,
    key: str = "key-1",
    initiator: str = "usr_a",
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
