"""Platform fees on payment-link payments: basis points of the amount plus a fixed part, per
currency, in integer minor units.

`fee = round_half_up(amount * basis_points / 10_000) + fixed`. The payer pays the amount; the
merchant's wallet is credited `amount - fee` and the platform's `fees:<CUR>` ledger account `fee`,
in one balanced journal transaction. A payment whose fee would take the whole amount is refused:
the merchant must receive something.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

BASIS_POINTS_PER_UNIT = 10_000


class FeeTerms(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)
    basis_points: int = Field(default=0, ge=0, le=BASIS_POINTS_PER_UNIT)
    fixed: int = Field(default=0, ge=0)
    """Minor units of the plan's currency."""


NO_FEE = FeeTerms()


def fee_for(amount: int, terms: FeeTerms) -> int:
    """The fee of a payment of `amount` minor units (half a minor unit rounds up)."""
    if amount <= 0:
        raise ValueError("a payment moves a strictly positive amount")
    proportional = (amount * terms.basis_points * 2 + BASIS_POINTS_PER_UNIT) // (
        2 * BASIS_POINTS_PER_UNIT
    )
    return proportional + terms.fixed


class FeePlan(BaseModel):
    """Fee terms per currency; a currency without terms pays no fee."""

    model_config = ConfigDict(frozen=True)
    terms: Mapping[str, FeeTerms] = Field(default_factory=dict)

    def terms_for(self, currency: str) -> FeeTerms:
        return self.terms.get(currency, NO_FEE)

    def fee(self, amount: int, currency: str) -> int:
        return fee_for(amount, self.terms_for(currency))

    def leaves_something(self, amount: int, currency: str) -> bool:
        """True when a payment of `amount` leaves the merchant more than nothing."""
        return self.fee(amount, currency) < amount
