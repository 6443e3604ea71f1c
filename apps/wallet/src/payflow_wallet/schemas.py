"""Request and response models of the wallet's internal HTTP API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from payflow_wallet.domain.wallet import Wallet, WalletStatus


class WalletCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner_id: str = Field(min_length=1, max_length=100)
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class WalletPublic(BaseModel):
    id: str
    owner_id: str
    currency: str
    balance: int
    status: WalletStatus
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, wallet: Wallet) -> WalletPublic:
        return cls(
            id=wallet.id,
            owner_id=wallet.owner_id,
            currency=wallet.currency,
            balance=wallet.balance,
            status=wallet.status,
            created_at=wallet.created_at,
            updated_at=wallet.updated_at,
        )


class WalletPage(BaseModel):
    data: list[WalletPublic]
    next_cursor: str | None
