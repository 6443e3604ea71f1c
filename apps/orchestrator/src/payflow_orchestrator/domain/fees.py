"""Platform fees on payment-link payments: basis points of the amount plus a fixed part, per
currency, in integer minor units.

`fee = round_half_up(amount * basis_points / 10_000) + fixed`. The payer pays the amount; the
merchant's wallet is credited `amount - fee` and the platform's `fees:<CUR>` ledger account `fee`,
in one balanced journal transaction. A payment whose fee would take the whole amount is refused:
the merchant must receive something.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

BASIS_POINTS_PER_UNIT = 10_000


@dataclass(frozen=True, slots=True)
class FeeTerms:
    basis_points: int = 0
    """0 to `BASIS_POINTS_PER_UNIT` (the whole amount)."""
    fixed: int = 0
    """Minor units of the plan's currency, at least 0."""

    def __post_init__(self) -> None:
        for name, value in (("basis_points", self.basis_points), ("fixed", self.fixed)):
            if type(value) is not int:  # strict: neither a bool nor a float nor a string
                raise ValueError(f"fee terms: {name} is an integer")
        if not 0 <= self.basis_points <= BASIS_POINTS_PER_UNIT:
            raise ValueError(f"fee terms: basis_points is from 0 to {BASIS_POINTS_PER_UNIT}")
        if self.fixed < 0:
            raise ValueError("fee terms: fixed is at least 0")


NO_FEE = FeeTerms()


def fee_for(amount: int, terms: FeeTerms) -> int:
    """The fee of a payment of `amount` minor units (half a minor unit rounds up)."""
    if amount <= 0:
        raise ValueError("a payment moves a strictly positive amount")
    proportional = (amount * terms.basis_points * 2 + BASIS_POINTS_PER_UNIT) // (
        2 * BASIS_POINTS_PER_UNIT
    )
    return proportional + terms.fixed


@dataclass(frozen=True, slots=True)
class FeePlan:
    """Fee terms per currency; a currency without terms pays no fee."""

    terms: Mapping[str, FeeTerms] = field(default_factory=dict)

    def terms_for(self, currency: str) -> FeeTerms:
        return self.terms.get(currency, NO_FEE)

    def fee(self, amount: int, currency: str) -> int:
        return fee_for(amount, self.terms_for(currency))

    def leaves_something(self, amount: int, currency: str) -> bool:
        """True when a payment of `amount` leaves the merchant more than nothing."""
        return self.fee(amount, currency) < amount
