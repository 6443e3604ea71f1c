"""Payment links: a merchant's standing request for money into one of its wallets, paid by any
signed-in payer with a transfer saga that carries the link's id.

A link has a fixed amount, or an open amount between `min_amount` and `max_amount`; it may expire,
be deactivated by its owner, and be single-use (exactly one completed payment) or reusable. Every
payment is reserved on the link with one guarded update before its saga starts
(`domain/reservations.py`): for a single-use link the guard also requires no payment in flight and
none completed, so concurrent payers cannot both pay it. A payment that fails gives the link back.

Pure: the stores and the API decide with these functions.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from payflow_orchestrator.domain.errors import LinkRefused
from payflow_orchestrator.domain.fees import FeePlan
from payflow_orchestrator.domain.reservations import Reservation

NEVER_MS = 2**62
"""`expires_at_ms` of a link that never expires: the guard compares one integer."""


class LinkStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    """Deactivated by its owner."""
    EXPIRED = "expired"
    PAID = "paid"
    """A single-use link with its one completed payment."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentLink:
    id: str
    owner_id: str
    idempotency_key: str
    request_fingerprint: str
    wallet_id: str
    """The merchant's wallet the payments go to."""
    currency: str
    amount: int | None = None
    """A fixed amount; None for an open amount between `min_amount` and `max_amount`."""
    min_amount: int | None = None
    max_amount: int | None = None
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    single_use: bool = False
    merchant_name: str
    expires_at: datetime | None = None
    active: bool = True
    created_at: datetime
    deactivated_at: datetime | None = None
    paid_count: int = 0
    """Completed payments."""
    paid_amount: int = 0
    """Their sum (gross amounts, fees included)."""
    reservations: dict[str, Reservation] = field(default_factory=dict)
    """Payments in flight, by slot."""
    reservations_open: int = 0

    def __post_init__(self) -> None:
        for name in ("amount", "min_amount", "max_amount"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"a payment link's {name} is strictly positive")

    def status(self, now: datetime) -> LinkStatus:
        if not self.active:
            return LinkStatus.INACTIVE
        if self.single_use and self.paid_count > 0:
            return LinkStatus.PAID
        if self.expires_at is not None and self.expires_at <= now:
            return LinkStatus.EXPIRED
        return LinkStatus.ACTIVE

    @property
    def expires_at_ms(self) -> int:
        if self.expires_at is None:
            return NEVER_MS
        return int(self.expires_at.timestamp() * 1000)


def link_fingerprint(fields: dict[str, Any]) -> str:
    """What makes two creations with one Idempotency-Key the same request."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_new_link(
    *,
    amount: int | None,
    min_amount: int | None,
    max_amount: int | None,
    currency: str,
    expires_at: datetime | None,
    now: datetime,
    plan: FeePlan,
    max_transfer_amount: int,
) -> tuple[int | None, int | None]:
    """Refuses a link no payment could satisfy; answers (min_amount, max_amount) as stored (the
    bounds of an open amount, defaulted; None for a fixed amount)."""
    if expires_at is not None and expires_at <= now:
        raise LinkRefused(422, "validation_error", "expires_at is not in the future.")
    if amount is not None:
        if min_amount is not None or max_amount is not None:
            raise LinkRefused(
                422, "validation_error", "A link has a fixed amount or min/max bounds, not both."
            )
        _check_leaves_something(amount, currency, plan)
        return None, None
    low = min_amount if min_amount is not None else 1
    high = max_amount if max_amount is not None else max_transfer_amount
    if low > high:
        raise LinkRefused(422, "validation_error", "min_amount is above max_amount.")
    if high > max_transfer_amount:
        raise LinkRefused(
            422, "validation_error", f"max_amount is above {max_transfer_amount} minor units."
        )
    if not plan.leaves_something(high, currency):
        raise LinkRefused(
            422, "amount_below_fee", "Every amount of this link would go to the platform's fee."
        )
    return low, high


def _check_leaves_something(amount: int, currency: str, plan: FeePlan) -> None:
    if not plan.leaves_something(amount, currency):
        raise LinkRefused(
            422,
            "amount_below_fee",
            f"The platform's fee ({plan.fee(amount, currency)} minor units) would take the "
            "whole amount.",
        )


def payment_amount(
    link: PaymentLink, requested: int | None, now: datetime, plan: FeePlan
) -> tuple[int, int]:
    """(amount, fee) of a payment of `link` now, or `LinkRefused`."""
    status = link.status(now)
    if status is LinkStatus.INACTIVE:
        raise LinkRefused(410, "payment_link_inactive", "This payment link was deactivated.")
    if status is LinkStatus.EXPIRED:
        raise LinkRefused(410, "payment_link_expired", "This payment link has expired.")
    if status is LinkStatus.PAID:
        raise LinkRefused(409, "payment_link_used", "This single-use payment link is paid.")
    if link.amount is not None:
        if requested is not None and requested != link.amount:
            raise LinkRefused(
                422,
                "payment_link_amount_invalid",
                f"This link asks for exactly {link.amount} minor units.",
            )
        amount = link.amount
    else:
        low, high = link.min_amount or 1, link.max_amount
        if requested is None or requested < low or (high is not None and requested > high):
            raise LinkRefused(
                422,
                "payment_link_amount_invalid",
                f"This link takes an amount from {low} to {high} minor units.",
            )
        amount = requested
    _check_leaves_something(amount, link.currency, plan)
    return amount, plan.fee(amount, link.currency)


def check_not_held(link: PaymentLink) -> None:
    """After losing the guarded update: a single-use link held by another payer's payment. (Not
    checked before the update: the guard alone decides who holds the link.)"""
    if link.single_use and link.reservations_open > 0:
        raise LinkRefused(
            409,
            "payment_link_busy",
            "A payment of this single-use link is in progress; retry if it fails.",
        )
