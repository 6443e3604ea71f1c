"""Response and request bodies of the wallet routes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from payflow_gateway.domain.wallets import WalletStatus


class WalletPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    owner_id: str
    currency: str
    balance: int = Field(description="Minor units (cents) of `currency`")
    status: WalletStatus
    created_at: datetime
    updated_at: datetime


class WalletCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, upper case")


class WalletList(BaseModel):
    data: list[WalletPublic]
    next_cursor: str | None


class LedgerEntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    transfer_id: str | None
    direction: Literal["debit", "credit"]
    amount: int = Field(description="Minor units, always positive")
    currency: str
    kind: str
    created_at: datetime


class LedgerEntryList(BaseModel):
    data: list[LedgerEntryPublic]
    next_cursor: str | None
