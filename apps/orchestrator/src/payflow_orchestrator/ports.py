"""The ports of the orchestrator's use cases: the stores of sagas, payment links, refunds and
fault rules, the reservation parents the keeper settles, the bus publisher and the live feed.

Each store has a MongoDB adapter (`adapters/mongo.py`) and an in-memory twin
(`adapters/memory.py`) that pass one contract suite. Every write is one atomic single-document
operation: an insert guarded by a unique index, or a compare-and-set (a guarded update).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from payflow_contracts import Envelope, MessagePayload
from payflow_contracts.paging import PagePosition
from payflow_contracts.transfers import TransferPublic
from payflow_orchestrator.domain.errors import OrchestratorError
from payflow_orchestrator.domain.faults import FaultRule
from payflow_orchestrator.domain.payment_links import PaymentLink
from payflow_orchestrator.domain.reservations import Reservation, Settlement
from payflow_orchestrator.domain.transfer import EventKey, Transfer


class DuplicateTransfer(OrchestratorError):
    """A transfer with this (initiator, idempotency key) exists already."""

    def __init__(self, existing: Transfer) -> None:
        super().__init__(existing.id)
        self.existing = existing


class DuplicateLink(OrchestratorError):
    """A payment link with this (owner, idempotency key) exists already."""

    def __init__(self, existing: PaymentLink) -> None:
        super().__init__(existing.id)
        self.existing = existing


# ---------------------------------------------------------------- transfer sagas


@dataclass(frozen=True)
class TransferQuery:
    owner_id: str | None = None
    states: Sequence[str] | None = None
    wallet_id: str | None = None
    created_gte: datetime | None = None
    created_lte: datetime | None = None
    payment_link_id: str | None = None


class TransferRepository(Protocol):
    async def add(self, transfer: Transfer) -> None:
        """Store a new saga; `DuplicateTransfer` when its (initiator, key) made one already."""
        ...

    async def get(self, transfer_id: str) -> Transfer | None: ...
    async def find_by_key(self, initiator_id: str, idempotency_key: str) -> Transfer | None: ...
    async def compare_and_set(
        self,
        transfer: Transfer,
        expected_version: int,
        added_events: Sequence[EventKey] = (),
        published_events: Sequence[EventKey] = (),
    ) -> bool:
        """Write `transfer` if the stored version is `expected_version`. Of the event flags,
        only `added_events` (as the transfer has them) and `published_events` (marked
        published, folded into this write) are set; the others are left as stored."""
        ...

    async def mark_event_published(self, transfer_id: str, key: EventKey) -> None: ...
    async def mark_events_published(self, flags: Sequence[tuple[str, EventKey]]) -> None:
        """The same for many sagas at once: one write per event kind."""
        ...

    async def due(self, now: datetime, limit: int) -> list[Transfer]: ...
    async def with_pending_events(self, updated_before: datetime, limit: int) -> list[Transfer]: ...
    async def page(
        self, query: TransferQuery, limit: int, after: PagePosition | None
    ) -> tuple[list[Transfer], str | None]:
        """The matching sagas newest first, from just after `after` (None: the first page),
        and the cursor of the next page (None: no more)."""
        ...

    async def count_active(self) -> int: ...
    async def count_past_deadline(self, before: datetime) -> int: ...


# ---------------------------------------------------------------- reservations


class ReservationParents(Protocol):
    """A collection of parents whose reservations the keeper settles."""

    async def settle(
        self, parent_id: str, slot: str, saga_id: str, amount: int, settlement: Settlement
    ) -> bool:
        """Remove the slot if it still holds `saga_id`, and count the share as consumed or give
        it back. True when this call settled it (False: settled before, or never reserved)."""
        ...

    async def due(self, now_ms: int, limit: int) -> list[tuple[str, dict[str, Reservation]]]:
        """Parents whose open reservations are due a look: (parent id, open reservations)."""
        ...

    async def postpone(self, parent_id: str, until_ms: int) -> None:
        """Look again at `until_ms` while reservations are open; forget the parent otherwise."""
        ...


class RefundBook(ReservationParents, Protocol):
    """The refunds of a transfer, kept on the transfer's own document: a reservation per refund
    in flight, `refund_reserved` (completed plus in flight) and `refunded_amount` (completed).

    Reserving is ONE guarded single-document update: the filter requires the transfer
    completed, the slot of (caller, Idempotency-Key) absent and `refund_reserved <= amount -
    refund`; the update adds the reservation, the refund's id and the counters together. Twenty
    concurrent partial refunds therefore never reserve more than the original amount, and a
    retry with the same key never reserves twice (docs/phases/PHASE-9-MERCHANT-PAYMENTS.md)."""

    async def reserve(
        self, original: Transfer, slot: str, reservation: Reservation, due_ms: int
    ) -> bool:
        """Reserve `reservation.amount` of `original` for the refund `reservation.saga_id`.
        False when the slot is taken or not that much is left (read the original again)."""
        ...


class PaymentLinkStore(ReservationParents, Protocol):
    """Payment links: an insert guarded by the unique (owner, Idempotency-Key) index, a guarded
    deactivation, and the reservations of payments: for a single-use link, reserving requires
    no payment in flight and none completed, in the same filter as the slot and the expiry."""

    async def add(self, link: PaymentLink) -> None:
        """Store a new link; `DuplicateLink` when its (owner, key) made one already."""
        ...

    async def get(self, link_id: str) -> PaymentLink | None: ...

    async def page(
        self, owner_id: str, limit: int, after: PagePosition | None
    ) -> tuple[list[PaymentLink], str | None]:
        """The owner's links, newest first, from just after `after`, and the next cursor."""
        ...

    async def deactivate(self, link_id: str, owner_id: str, at: datetime) -> PaymentLink | None:
        """Deactivate the owner's link (once; later calls change nothing). None: no such link of
        that owner."""
        ...

    async def reserve(
        self, link: PaymentLink, slot: str, reservation: Reservation, now_ms: int, due_ms: int
    ) -> bool:
        """Hold the link for one payment. False when the slot is taken, the link is inactive
        or expired at `now_ms`, or (single-use) a payment is in flight or completed."""
        ...


class ChildStarter(Protocol):
    async def start_child(self, request: Mapping[str, Any]) -> Transfer:
        """Start the saga a reservation holds (or find it, when it exists)."""
        ...


# ---------------------------------------------------------------- sandbox faults


class FaultRuleStore(Protocol):
    async def add(self, rule: FaultRule, cap: int | None = None) -> None:
        """Store a rule; with `cap`, refuse with `QuotaExceeded` when its owner holds `cap`
        rules already (exactly, however many are added at once)."""
        ...

    async def for_owner(self, owner_id: str) -> list[FaultRule]: ...
    async def remove(self, owner_id: str, rule_id: str) -> bool: ...


# ---------------------------------------------------------------- the bus and the live feed


class Publisher(Protocol):
    async def publish(
        self,
        stream: str,
        payload: MessagePayload,
        *,
        saga_id: str | None = None,
        causation_id: str | None = None,
        message_id: str | None = None,
    ) -> Envelope: ...


class LiveFeed(Protocol):
    async def announce(self, transfer_id: str, view: TransferPublic) -> None:
        """Tell the watchers of `transfer_id` (the gateway's SSE) its new state; best effort."""
        ...
