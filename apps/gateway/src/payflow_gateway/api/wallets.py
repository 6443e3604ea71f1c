"""Public wallet routes: each wallet is visible only to its owner; anyone else gets 404, exactly
as for a wallet that does not exist."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from payflow_gateway.api.checks import check_currency
from payflow_gateway.api.schemas import (
    LedgerEntryList,
    LedgerEntryPublic,
    WalletCreate,
    WalletList,
    WalletPublic,
)
from payflow_gateway.deps import CurrentUser, Ledger, Settings, Wallets
from payflow_gateway.domain.errors import WalletNotFound
from payflow_gateway.domain.users import User
from payflow_gateway.domain.wallets import Wallet
from payflow_gateway.ports import WalletDirectory
from payflow_gateway.problems import problem_responses

router = APIRouter(prefix="/v1/wallets", tags=["wallets"])

Limit = Annotated[int, Query(ge=1, le=100)]

NOT_FOUND = problem_responses(401, 404, 503, s404="`wallet_not_found`")


async def _owned_wallet(directory: WalletDirectory, wallet_id: str, user: User) -> Wallet:
    wallet = await directory.wallet(wallet_id)
    if wallet is None or not wallet.is_owned_by(user.id):
        raise WalletNotFound(wallet_id)
    return wallet


@router.get("", responses=problem_responses(401, 422, 503), summary="The caller's wallets")
async def list_wallets(
    user: CurrentUser, wallets: Wallets, limit: Limit = 20, cursor: str | None = None
) -> WalletList:
    page = await wallets.wallets_of(user.id, limit, cursor)
    return WalletList(
        data=[WalletPublic.model_validate(w) for w in page.items], next_cursor=page.next_cursor
    )


@router.post(
    "",
    status_code=201,
    responses=problem_responses(
        401, 409, 422, 503, s409="`quota_exceeded`: the most wallets one user may hold"
    ),
    summary="Open a wallet in one of the supported currencies",
)
async def open_wallet(
    body: WalletCreate, user: CurrentUser, wallets: Wallets, settings: Settings
) -> WalletPublic:
    check_currency(body.currency, settings)
    wallet = await wallets.open_wallet(user.id, body.currency)
    return WalletPublic.model_validate(wallet)


@router.get("/{wallet_id}", responses=NOT_FOUND, summary="One of the caller's wallets")
async def get_wallet(wallet_id: str, user: CurrentUser, wallets: Wallets) -> WalletPublic:
    return WalletPublic.model_validate(await _owned_wallet(wallets, wallet_id, user))


@router.post(
    "/{wallet_id}/freeze",
    responses=problem_responses(401, 404, 409, 503, s404="`wallet_not_found`"),
    summary="Freeze a wallet: it can neither send nor receive",
)
async def freeze_wallet(wallet_id: str, user: CurrentUser, wallets: Wallets) -> WalletPublic:
    await _owned_wallet(wallets, wallet_id, user)
    return WalletPublic.model_validate(await wallets.freeze(wallet_id))


@router.post(
    "/{wallet_id}/unfreeze",
    responses=problem_responses(401, 404, 409, 503, s404="`wallet_not_found`"),
    summary="Unfreeze a wallet",
)
async def unfreeze_wallet(wallet_id: str, user: CurrentUser, wallets: Wallets) -> WalletPublic:
    await _owned_wallet(wallets, wallet_id, user)
    return WalletPublic.model_validate(await wallets.unfreeze(wallet_id))


@router.get(
    "/{wallet_id}/entries",
    responses=problem_responses(400, 401, 404, 422, 503, s404="`wallet_not_found`"),
    summary="The wallet's ledger entries, newest first",
)
async def list_entries(
    wallet_id: str,
    user: CurrentUser,
    wallets: Wallets,
    ledger: Ledger,
    limit: Limit = 20,
    cursor: str | None = None,
) -> LedgerEntryList:
    await _owned_wallet(wallets, wallet_id, user)
    page = await ledger.entries_of(wallet_id, limit, cursor)
    return LedgerEntryList(
        data=[LedgerEntryPublic.model_validate(e) for e in page.items],
        next_cursor=page.next_cursor,
    )
