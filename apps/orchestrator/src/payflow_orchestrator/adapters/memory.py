"""Where payment links live: a protocol, its MongoDB adapter and an in-memory twin (one contract
suite). Every write is one single-document operation: an insert guarded by the unique
(owner, Idempotency-Key) index, a guarded deactivation, and the reservations of payments
(`reservations.py`): for a single-use link, reserving requires no payment in flight and none
completed, in the same filter as the slot and the expiry."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from beanie import Document
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from payflow_contracts import paging
from payflow_contracts.paging import PagePosition
from payflow_orchestrator.domain.payment_links import PaymentLink
from payflow_orchestrator.domain.reservations import Reservation
from payflow_orchestrator.reservations import (
    InMemoryReservations,
    MongoReservations,
    ReservationParents,
)


class DuplicateLink(Exception):
    def __init__(self, existing: PaymentLink) -> None:
        super().__init__(existing.id)
        self.existing = existing


class PaymentLinkStore(ReservationParents, Protocol):
    async def add(self, link: PaymentLink) -> None:
        """Store a new link; `DuplicateLink` when its (owner, key) made one already."""
        ...

    async def get(self, link_id: str) -> PaymentLink | None: ...

    async def page(
        self, owner_id: str, limit: int, cursor: str | None
    ) -> tuple[list[PaymentLink], str | None]:
        """The owner's links, newest first; `InvalidCursor` for a cursor it did not hand out."""
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


def _consumed(amount: int) -> dict[str, int]:
    return {"paid_count": 1, "paid_amount": amount}


def _released(amount: int) -> dict[str, int]:
    return {}


def list_position(link: PaymentLink) -> str:
    return PagePosition(link.created_at, link.id).key


class PaymentLinkDocument(Document):
    """Storage schema and indexes of the `payment_links` collection (written through raw
    operations, each one guarded single-document write)."""

    class Settings:
        name = "payment_links"
        indexes = [
            IndexModel(
                [("owner_id", ASCENDING), ("idempotency_key", ASCENDING)],
                unique=True,
                name="one_link_per_idempotency_key",
            ),
            IndexModel([("owner_id", ASCENDING), ("position", DESCENDING)], name="by_owner"),
            IndexModel([("reservations_due_ms", ASCENDING)], name="by_reservations_due"),
        ]


def _to_document(link: PaymentLink) -> dict[str, Any]:
    data = link.model_dump(mode="python")
    data["_id"] = data.pop("id")
    data["position"] = list_position(link)
    data["expires_at_ms"] = link.expires_at_ms
    data["reservations_due_ms"] = None
    return data


def _from_document(data: dict[str, Any]) -> PaymentLink:
    data = dict(data)
    data["id"] = data.pop("_id")
    for derived in ("position", "expires_at_ms", "reservations_due_ms"):
        data.pop(derived, None)
    return PaymentLink.model_validate(data)


class MongoPaymentLinkStore(MongoReservations):
    def __init__(self, collection: Any) -> None:
        super().__init__(collection, _consumed, _released)
        self._collection = collection

    async def add(self, link: PaymentLink) -> None:
        try:
            await self._collection.insert_one(_to_document(link))
        except DuplicateKeyError:
            existing = await self._collection.find_one(
                {"owner_id": link.owner_id, "idempotency_key": link.idempotency_key}
            )
            if existing is None:  # the id collided, not the key: astronomically unlikely
                raise
            raise DuplicateLink(_from_document(existing)) from None

    async def get(self, link_id: str) -> PaymentLink | None:
        data = await self._collection.find_one({"_id": link_id})
        return _from_document(data) if data else None

    async def page(
        self, owner_id: str, limit: int, cursor: str | None
    ) -> tuple[list[PaymentLink], str | None]:
        query: dict[str, Any] = {"owner_id": owner_id}
        if cursor:
            query["position"] = {"$lt": paging.decode_cursor(cursor).key}
        found = self._collection.find(query).sort([("position", DESCENDING)]).limit(limit + 1)
        items = [_from_document(d) async for d in found]
        return items[:limit], _next_cursor(items, limit)

    async def deactivate(self, link_id: str, owner_id: str, at: datetime) -> PaymentLink | None:
        await self._collection.update_one(
            {"_id": link_id, "owner_id": owner_id, "active": True},
            {"$set": {"active": False, "deactivated_at": at}},
        )
        link = await self.get(link_id)
        return link if link is not None and link.owner_id == owner_id else None

    async def reserve(
        self, link: PaymentLink, slot: str, reservation: Reservation, now_ms: int, due_ms: int
    ) -> bool:
        guard: dict[str, Any] = {
            "_id": link.id,
            "active": True,
            "expires_at_ms": {"$gt": now_ms},
            f"reservations.{slot}": {"$exists": False},
        }
        if link.single_use:
            guard.update(reservations_open=0, paid_count=0)
        result = await self._collection.update_one(
            guard,
            {
                "$set": {
                    f"reservations.{slot}": reservation.model_dump(mode="python"),
                    "reservations_due_ms": due_ms,
                },
                "$inc": {"reservations_open": 1},
            },
        )
        return bool(result.modified_count == 1)


def _next_cursor(items: list[PaymentLink], limit: int) -> str | None:
    if len(items) <= limit:
        return None
    last = items[limit - 1]
    return paging.encode_cursor(PagePosition(last.created_at, last.id))


def _consumed_in_memory(link: PaymentLink, amount: int) -> dict[str, Any]:
    return {"paid_count": link.paid_count + 1, "paid_amount": link.paid_amount + amount}


def _released_in_memory(link: PaymentLink, amount: int) -> dict[str, Any]:
    return {}


class InMemoryPaymentLinkStore(InMemoryReservations):
    def __init__(self) -> None:
        self._links: dict[str, PaymentLink] = {}
        super().__init__(self._links, _consumed_in_memory, _released_in_memory)

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
        self, owner_id: str, limit: int, cursor: str | None
    ) -> tuple[list[PaymentLink], str | None]:
        mine = sorted(
            (link for link in self._links.values() if link.owner_id == owner_id),
            key=list_position,
            reverse=True,
        )
        if cursor:
            before = paging.decode_cursor(cursor).key
            mine = [link for link in mine if list_position(link) < before]
        return mine[:limit], _next_cursor(mine[: limit + 1], limit)

    async def deactivate(self, link_id: str, owner_id: str, at: datetime) -> PaymentLink | None:
        link = self._links.get(link_id)
        if link is None or link.owner_id != owner_id:
            return None
        if link.active:
            link = link.model_copy(update={"active": False, "deactivated_at": at})
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
        self._links[link.id] = stored.model_copy(
            update={
                "reservations": {**stored.reservations, slot: reservation},
                "reservations_open": stored.reservations_open + 1,
            }
        )
        self.due_ms[link.id] = due_ms
        return True
