"""The wallet's internal HTTP API (gateway and reconciliation only; service token required)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from payflow_contracts import new_id
from payflow_contracts.paging import InvalidCursor, PagePosition, decode_cursor, encode_cursor
from payflow_service import InternalCaller, ProblemError
from payflow_service.quotas import QuotaExceeded, quota_problem
from payflow_wallet.domain.wallet import (
    Wallet,
    WalletClosed,
    WalletStatus,
    open_wallet,
    utc_now,
    with_status,
)
from payflow_wallet.repository import WalletRepository
from payflow_wallet.settings import WalletSettings

router = APIRouter(prefix="/internal/wallets")


async def _wallets(request: Request) -> WalletRepository:
    return request.app.state.runtime.components["wallets"]  # type: ignore[no-any-return]


async def _settings(request: Request) -> WalletSettings:
    return request.app.state.runtime.settings  # type: ignore[no-any-return]


Wallets = Annotated[WalletRepository, Depends(_wallets)]
Settings = Annotated[WalletSettings, Depends(_settings)]


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


def _not_found() -> ProblemError:
    return ProblemError(404, "wallet_not_found", "No such wallet.")


@router.post("", status_code=201)
async def create_wallet(
    body: WalletCreate, wallets: Wallets, settings: Settings, _: InternalCaller
) -> WalletPublic:
    if body.currency not in settings.currency_list:
        raise ProblemError(
            422,
            "validation_error",
            "The request is not valid.",
            errors=[{"loc": "body.currency", "msg": f"must be one of {settings.currencies}"}],
        )
    wallet = open_wallet(new_id("wal"), body.owner_id, body.currency, utc_now())
    try:
        await wallets.add(wallet, cap=settings.max_wallets_per_user)
    except QuotaExceeded as exceeded:
        raise quota_problem(exceeded, "wallets", "PAYFLOW_MAX_WALLETS_PER_USER") from None
    return WalletPublic.of(wallet)


@router.get("/{wallet_id}")
async def get_wallet(wallet_id: str, wallets: Wallets, _: InternalCaller) -> WalletPublic:
    wallet = await wallets.get(wallet_id)
    if wallet is None:
        raise _not_found()
    return WalletPublic.of(wallet)


@router.get("")
async def list_wallets(
    wallets: Wallets,
    _: InternalCaller,
    owner_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> WalletPage:
    try:
        after = decode_cursor(cursor) if cursor else None
    except InvalidCursor:
        raise ProblemError(400, "invalid_cursor", "The cursor is not valid.") from None
    found = await wallets.page(owner_id, limit + 1, after)
    page = found[:limit]
    next_cursor = (
        encode_cursor(PagePosition(page[-1].created_at, page[-1].id))
        if len(found) > limit
        else None
    )
    return WalletPage(data=[WalletPublic.of(w) for w in page], next_cursor=next_cursor)


async def _change_status(
    wallets: WalletRepository, wallet_id: str, target: WalletStatus
) -> WalletPublic:
    # Guarded on the status read: if a concurrent change moved it, read and decide again.
    for _ in range(16):
        wallet = await wallets.get(wallet_id)
        if wallet is None:
            raise _not_found()
        try:
            with_status(wallet, target, utc_now())
        except WalletClosed:
            raise ProblemError(409, "wallet_closed", "A closed wallet cannot change.") from None
        if wallet.status is target:
            return WalletPublic.of(wallet)
        if await wallets.set_status(wallet_id, target, frozenset({wallet.status})):
            stored = await wallets.get(wallet_id)
            assert stored is not None
            return WalletPublic.of(stored)
    raise ProblemError(409, "conflict", "The wallet is changing; retry.")


@router.post("/{wallet_id}/freeze")
async def freeze_wallet(wallet_id: str, wallets: Wallets, _: InternalCaller) -> WalletPublic:
    return await _change_status(wallets, wallet_id, WalletStatus.FROZEN)


@router.post("/{wallet_id}/unfreeze")
async def unfreeze_wallet(wallet_id: str, wallets: Wallets, _: InternalCaller) -> WalletPublic:
    return await _change_status(wallets, wallet_id, WalletStatus.ACTIVE)
