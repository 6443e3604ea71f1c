"""Builders shared by the orchestrator's tests.

No calendar date here: the repository contract writes to a real store and takes its times from the
suite's `now` fixture; the pure unit tests pin their own instant.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from payflow_contracts import Envelope, MessagePayload
from payflow_contracts.events import TransferEvent
from payflow_contracts.saga import SagaCommand, SagaStep, StepOutcome, StepReply
from payflow_contracts.transfers import TransferPublic
from payflow_orchestrator.domain.payment_links import PaymentLink
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


# ---------------------------------------------------------------- coordinator doubles


class RecordingPublisher:
    """Keeps every message the coordinator publishes, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, MessagePayload]] = []

    async def publish(self, stream: str, payload: MessagePayload, **_: Any) -> Envelope:
        self.sent.append((stream, payload))
        return Envelope.wrap(payload)

    def commands(self) -> list[SagaCommand]:
        return [p for _, p in self.sent if isinstance(p, SagaCommand)]

    def events(self, event_type: str | None = None) -> list[TransferEvent]:
        return [
            p
            for _, p in self.sent
            if isinstance(p, TransferEvent) and event_type in (None, p.event_type)
        ]


class SilentFeed:
    async def announce(self, transfer_id: str, view: TransferPublic) -> None:
        return None


class Clock:
    """A clock the test moves; the pure coordinator tests pin their own instant."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def ms(self) -> int:
        return int(self.now.timestamp() * 1000)


def reply(saga_id: str, step: SagaStep, outcome: StepOutcome) -> Envelope:
    return Envelope.wrap(StepReply(saga_id=saga_id, step=step, outcome=outcome), saga_id=saga_id)


def a_link(
    link_id: str = "pl_1",
    *,
    at: datetime,
    owner: str = "usr_m",
    key: str = "link-1",
    amount: int | None = 1_000,
    min_amount: int | None = None,
    max_amount: int | None = None,
    single_use: bool = False,
    expires_at: datetime | None = None,
    currency: str = "USD",
) -> PaymentLink:
    return PaymentLink(
        id=link_id,
        owner_id=owner,
        idempotency_key=key,
        request_fingerprint=key,
        wallet_id="wal_m",
        currency=currency,
        amount=amount,
        min_amount=min_amount,
        max_amount=max_amount,
        description="a mug",
        metadata={"sku": "mug"},
        single_use=single_use,
        merchant_name="Mugs Ltd",
        expires_at=expires_at,
        created_at=at,
    )
