"""Reservations: how a parent document (a transfer being refunded, a payment link being paid)
holds a share of itself for a child saga, without multi-document transactions.

A request first reserves on the parent with ONE guarded single-document update: the guard (the
amount still refundable, a single-use link still free) and the reservation's slot (derived from the
caller and its Idempotency-Key, absent) are in the filter; the reservation, which holds the whole
child request, and the counters are in the update. Only then is the child saga inserted, under an
id chosen at reservation time. So:

- a retry with the same key finds its slot taken and starts the SAME child (same id, same key);
  the orchestrator's unique (initiator, key) index makes the second insert answer the first;
- a crash between the reservation and the insert leaves a reservation without a child; a keeper
  finds it after a grace period and starts the child from the request the reservation holds
  (rolling forward: releasing instead could let a slow first request insert its child after
  another request took the freed share);
- when the child is terminal, the reservation is settled with one guarded update (the slot must
  still be there; it is removed): a completed child consumes its share, a failed one gives it back.

Everything here is pure: the keeper and the stores decide with these functions.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "KeeperAction",
    "Reservation",
    "Settlement",
    "keeper_action",
    "settlement_for",
    "slot_for",
]


def slot_for(initiator_id: str, idempotency_key: str) -> str:
    """The reservation slot of one (caller, Idempotency-Key): a field name with neither `$` nor
    `.`, whatever the key holds."""
    digest = hashlib.sha256(f"{initiator_id}\n{idempotency_key}".encode()).hexdigest()
    return f"s{digest[:32]}"


@dataclass(frozen=True, slots=True)
class Reservation:
    """A share of a parent held for one child saga until the child is terminal."""

    saga_id: str
    amount: int
    reserved_at_ms: int
    request: dict[str, Any]
    """Everything needed to start the child saga (a `TransferRequest`, as JSON)."""

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise ValueError("a reservation holds a strictly positive amount")


class Settlement(StrEnum):
    CONSUMED = "consumed"
    """The child completed: its share is spent for good."""
    RELEASED = "released"
    """The child failed (nothing moved, or compensated): its share is free again."""


class KeeperAction(StrEnum):
    WAIT = "wait"
    START_CHILD = "start_child"
    SETTLE = "settle"


def keeper_action(
    reservation: Reservation,
    child_state: str | None,
    child_terminal: bool,
    now_ms: int,
    grace_ms: int,
) -> KeeperAction:
    """What the keeper owes a reservation it finds open on a parent."""
    if child_state is None:
        # The request that reserved may still be about to insert its child; after the grace the
        # keeper inserts it (same id, same key: whichever insert comes second answers the first).
        if now_ms - reservation.reserved_at_ms >= grace_ms:
            return KeeperAction.START_CHILD
        return KeeperAction.WAIT
    return KeeperAction.SETTLE if child_terminal else KeeperAction.WAIT


def settlement_for(child_completed: bool) -> Settlement:
    return Settlement.CONSUMED if child_completed else Settlement.RELEASED
