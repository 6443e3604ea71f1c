"""The in-memory twins of the orchestrator's stores (`ports.py`): the unit tests of the use cases
run on them, and they pass the same contract suites as the MongoDB adapters."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from payflow_contracts.paging import PagePosition, cut_page, position_of
from payflow_orchestrator.domain.faults import FaultRule
from payflow_orchestrator.domain.payment_links import PaymentLink
from payflow_orchestrator.domain.reservations import Reservation, Settlement
from payflow_orchestrator.domain.saga_machine import SagaKind, SagaState
from payflow_orchestrator.domain.transfer import REFUND_FIELDS, EventKey, Transfer
from payflow_orchestrator.ports import DuplicateLink, DuplicateTransfer, TransferQuery
from payflow_service.quotas import QuotaExceeded

NEVER_DUE = None


def _transfer_position(transfer: Transfer) -> PagePosition:
    return PagePosition(transfer.created_at, transfer.id)


def _link_position(link: PaymentLink) -> PagePosition:
    return PagePosition(link.created_at, link.id)


# ---------------------------------------------------------------- transfer sagas


class InMemoryTransferRepository:
    """The twin used by unit tests of the coordinator; passes the same contract tests."""

    def __init__(self) -> None:
        self._items: dict[str, Transfer] = {}

    @property
    def items(self) -> dict[str, Transfer]:
        """The stored sagas by id (the in-memory refund book writes its fields here)."""
        return self._items

    async def add(self, transfer: Transfer) -> None:
        existing = await self.find_by_key(transfer.initiator_id, transfer.idempotency_key)
        if existing is not None:
            raise DuplicateTransfer(existing)
        self._items[transfer.id] = transfer

    async def get(self, transfer_id: str) -> Transfer | None:
        return self._items.get(transfer_id)

    async def find_by_key(self, initiator_id: str, idempotency_key: str) -> Transfer | None:
        for item in self._items.values():
            if item.initiator_id == initiator_id and item.idempotency_key == idempotency_key:
                return item
        return None

    async def compare_and_set(
        self,
        transfer: Transfer,
        expected_version: int,
        added_events: Sequence[EventKey] = (),
        published_events: Sequence[EventKey] = (),
    ) -> bool:
        current = self._items.get(transfer.id)
        if current is None or current.version != expected_version:
            return False
        events = dict(current.events)
        for key in added_events:
            events[key] = transfer.events[key]
        for key in published_events:
            events[key] = "published"
        kept = {name: getattr(current, name) for name in REFUND_FIELDS}
        self._items[transfer.id] = replace(transfer, events=events, **kept)
        return True

    async def mark_event_published(self, transfer_id: str, key: EventKey) -> None:
        current = self._items.get(transfer_id)
        if current is not None:
            events = {**copy.deepcopy(current.events), key: "published"}
            self._items[transfer_id] = replace(current, events=events)

    async def mark_events_published(self, flags: Sequence[tuple[str, EventKey]]) -> None:
        for transfer_id, key in flags:
            await self.mark_event_published(transfer_id, key)

    async def due(self, now: datetime, limit: int) -> list[Transfer]:
        found = [
            t
            for t in self._items.values()
            if not t.is_terminal and t.step_deadline is not None and t.step_deadline <= now
        ]
        return sorted(found, key=lambda t: t.step_deadline or now)[:limit]

    async def with_pending_events(self, updated_before: datetime, limit: int) -> list[Transfer]:
        found = [
            t for t in self._items.values() if t.pending_events() and t.updated_at <= updated_before
        ]
        return found[:limit]

    async def page(
        self, query: TransferQuery, limit: int, after: PagePosition | None
    ) -> tuple[list[Transfer], str | None]:
        def matches(t: Transfer) -> bool:
            return (
                (not query.owner_id or query.owner_id in t.owner_ids)
                and (not query.states or t.state.value in query.states)
                and (
                    not query.wallet_id
                    or query.wallet_id in (t.source_wallet_id, t.destination_wallet_id)
                )
                and (not query.payment_link_id or t.payment_link_id == query.payment_link_id)
                and (
                    not query.created_gte
                    or position_of(t.created_at, t.id) >= position_of(query.created_gte, "")
                )
                and (
                    not query.created_lte
                    or position_of(t.created_at, t.id) <= position_of(query.created_lte, "~")
                )
            )

        def position(t: Transfer) -> str:
            return position_of(t.created_at, t.id)

        items = sorted((t for t in self._items.values() if matches(t)), key=position, reverse=True)
        if after is not None:
            items = [t for t in items if position(t) < after.key]
        return cut_page(items, limit, _transfer_position)

    async def count_active(self) -> int:
        return sum(1 for t in self._items.values() if not t.is_terminal)

    async def count_past_deadline(self, before: datetime) -> int:
        return sum(
            1
            for t in self._items.values()
            if not t.is_terminal and t.step_deadline is not None and t.step_deadline < before
        )


# ---------------------------------------------------------------- reservations


class InMemoryReservations:
    """The twin of `MongoReservations` over parents kept in a dict of frozen dataclasses that have
    `reservations` and `reservations_open`; `apply` moves the kind's counters."""

    def __init__(
        self,
        items: dict[str, Any],
        consumed: Callable[[Any, int], dict[str, Any]],
        released: Callable[[Any, int], dict[str, Any]],
    ) -> None:
        self._items = items
        self._consumed = consumed
        self._released = released
        self.due_ms: dict[str, int | None] = {}

    async def settle(
        self, parent_id: str, slot: str, saga_id: str, amount: int, settlement: Settlement
    ) -> bool:
        parent = self._items.get(parent_id)
        if parent is None:
            return False
        held = parent.reservations.get(slot)
        if held is None or held.saga_id != saga_id:
            return False
        counters = (
            self._consumed(parent, amount)
            if settlement is Settlement.CONSUMED
            else self._released(parent, amount)
        )
        reservations = {k: v for k, v in parent.reservations.items() if k != slot}
        self._items[parent_id] = replace(
            parent,
            **counters,
            reservations=reservations,
            reservations_open=parent.reservations_open - 1,
        )
        if parent.reservations_open - 1 == 0:
            self.due_ms[parent_id] = NEVER_DUE
        return True

    async def due(self, now_ms: int, limit: int) -> list[tuple[str, dict[str, Reservation]]]:
        found = sorted(
            (due, parent_id)
            for parent_id, due in self.due_ms.items()
            if due is not None and due <= now_ms
        )
        return [
            (parent_id, dict(self._items[parent_id].reservations))
            for _, parent_id in found[:limit]
            if parent_id in self._items
        ]

    async def postpone(self, parent_id: str, until_ms: int) -> None:
        parent = self._items.get(parent_id)
        if parent is None or parent.reservations_open == 0:
            self.due_ms[parent_id] = NEVER_DUE
        else:
            self.due_ms[parent_id] = until_ms


# ---------------------------------------------------------------- refunds


def _refund_consumed(parent: Transfer, amount: int) -> dict[str, Any]:
    return {"refunded_amount": parent.refunded_amount + amount}


def _refund_released(parent: Transfer, amount: int) -> dict[str, Any]:
    return {"refund_reserved": parent.refund_reserved - amount}


class InMemoryRefundBook(InMemoryReservations):
    """The twin, writing the refund fields of the in-memory transfer repository's sagas."""

    def __init__(self, transfers: InMemoryTransferRepository) -> None:
        super().__init__(transfers.items, _refund_consumed, _refund_released)
        self._transfers = transfers

    async def reserve(
        self, original: Transfer, slot: str, reservation: Reservation, due_ms: int
    ) -> bool:
        stored = self._transfers.items.get(original.id)
        if (
            stored is None
            or stored.kind is not SagaKind.TRANSFER
            or stored.state is not SagaState.COMPLETED
            or slot in stored.reservations
            or stored.refund_reserved + reservation.amount > stored.amount
        ):
            return False
        self._transfers.items[original.id] = replace(
            stored,
            reservations={**stored.reservations, slot: reservation},
            refund_reserved=stored.refund_reserved + reservation.amount,
            reservations_open=stored.reservations_open + 1,
            refund_ids=[*stored.refund_ids, reservation.saga_id],
        )
        self.due_ms[original.id] = due_ms
        return True


# ---------------------------------------------------------------- payment links


def _link_consumed(link: PaymentLink, amount: int) -> dict[str, Any]:
    return {"paid_count": link.paid_count + 1, "paid_amount": link.paid_amount + amount}


def _link_released(link: PaymentLink, amount: int) -> dict[str, Any]:
    return {}


class InMemoryPaymentLinkStore(InMemoryReservations):
    def __init__(self) -> None:
        self._links: dict[str, PaymentLink] = {}
        super().__init__(self._links, _link_consumed, _link_released)

    async def add(self, link: PaymentLink) -> None:
        for existing in self._links.values():
            if (existing.owner_id, existing.idempotency_key) == (
                link.owner_id,
                link.idempotency_key,
            ):
                raise DuplicateLink(existing)
        self._links[link.id] = link

    async def get(self, link_id: str) -> PaymentLink | None:
        return self._links.get(link_id)

    async def page(
        self, owner_id: str, limit: int, after: PagePosition | None
    ) -> tuple[list[PaymentLink], str | None]:
        mine = sorted(
            (link for link in self._links.values() if link.owner_id == owner_id),
            key=_link_position,
            reverse=True,
        )
        if after is not None:
            mine = [link for link in mine if _link_position(link).key < after.key]
        return cut_page(mine, limit, _link_position)

    async def deactivate(self, link_id: str, owner_id: str, at: datetime) -> PaymentLink | None:
        link = self._links.get(link_id)
        if link is None or link.owner_id != owner_id:
            return None
        if link.active:
            link = replace(link, active=False, deactivated_at=at)
            self._links[link_id] = link
        return link

    async def reserve(
        self, link: PaymentLink, slot: str, reservation: Reservation, now_ms: int, due_ms: int
    ) -> bool:
        stored = self._links.get(link.id)
        if (
            stored is None
            or not stored.active
            or stored.expires_at_ms <= now_ms
            or slot in stored.reservations
            or (stored.single_use and (stored.reservations_open > 0 or stored.paid_count > 0))
        ):
            return False
        self._links[link.id] = replace(
            stored,
            reservations={**stored.reservations, slot: reservation},
            reservations_open=stored.reservations_open + 1,
        )
        self.due_ms[link.id] = due_ms
        return True


# ---------------------------------------------------------------- sandbox fault rules


class InMemoryFaultRuleStore:
    def __init__(self) -> None:
        self._rules: dict[str, FaultRule] = {}

    async def add(self, rule: FaultRule, cap: int | None = None) -> None:
        held = sum(1 for r in self._rules.values() if r.owner_id == rule.owner_id)
        if cap is not None and held >= cap:
            raise QuotaExceeded(cap)
        self._rules[rule.id] = rule

    async def for_owner(self, owner_id: str) -> list[FaultRule]:
        return [r for _, r in sorted(self._rules.items()) if r.owner_id == owner_id]

    async def remove(self, owner_id: str, rule_id: str) -> bool:
        rule = self._rules.get(rule_id)
        if rule is None or rule.owner_id != owner_id:
            return False
        del self._rules[rule_id]
        return True
