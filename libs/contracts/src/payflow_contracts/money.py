"""Money: an integer amount of minor units with an ISO 4217 currency. Never a float."""

from __future__ import annotations

import re
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

_CURRENCY = re.compile(r"^[A-Z]{3}$")

PositiveMinorUnits = Annotated[StrictInt, Field(gt=0)]
"""A strictly positive integer amount: JSON floats, strings and booleans are refused."""

NonNegativeMinorUnits = Annotated[StrictInt, Field(ge=0)]
"""Zero or more minor units (a fee)."""

CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class Money(BaseModel):
    """An amount in minor units (cents) and its currency."""

    model_config = ConfigDict(frozen=True, strict=True)

    amount: StrictInt
    currency: CurrencyCode

    @model_validator(mode="after")
    def _currency_upper(self) -> Self:
        if not _CURRENCY.match(self.currency):
            raise ValueError("currency must be three upper-case letters")
        return self

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(amount=self.amount - other.amount, currency=self.currency)

    def __neg__(self) -> Money:
        return Money(amount=-self.amount, currency=self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"currency mismatch: {self.currency} and {other.currency}")
