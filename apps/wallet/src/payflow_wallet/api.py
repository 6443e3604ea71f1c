"""The wallet's internal HTTP API (gateway and reconciliation only; service token required)."""

from __future__ import annotations

from fastapi import APIRouter

from payflow_contracts import new_id
from payflow_contracts.clock import utc_now
from payflow_contracts.paging import PagePosition, cut_page
from payflow_service import InternalCaller, ProblemError
from payflow_service.paging import Cursor, Limit
from payflow_service.quotas import QuotaExceeded, quota_problem
from payflow_wallet.deps import Settings, Wallets
from payflow_wallet.domain.errors import WalletNotFound
from payflow_wallet.domain.wallet import Wallet, WalletStatus, open_wallet
from payflow_wallet.schemas import WalletCreate, WalletPage, WalletPublic
from payflow_wallet.wallet_status import change_status

router = APIRouter(prefix="/internal/wallets")


def _position(wallet: Wallet) -> PagePosition:
    return PagePosition(wallet.created_at, wallet.id)


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
        raise WalletNotFound(wallet_id)
    return WalletPublic.of(wallet)


@router.get("")
async def list_wallets(
    wallets: Wallets,
    _: InternalCaller,
    after: Cursor,
    owner_id: str | None = None,
    limit: Limit = 20,
) -> WalletPage:
    found = await wallets.page(owner_id, limit + 1, after)
    page, next_cursor = cut_page(found, limit, _position)
    return WalletPage(data=[WalletPublic.of(w) for w in page], next_cursor=next_cursor)


@router.post("/{wallet_id}/freeze")
async def freeze_wallet(wallet_id: str, wallets: Wallets, _: InternalCaller) -> WalletPublic:
    return WalletPublic.of(await change_status(wallets, wallet_id, WalletStatus.FROZEN))


@router.post("/{wallet_id}/unfreeze")
async def unfreeze_wallet(wallet_id: str, wallets: Wallets, _: InternalCaller) -> WalletPublic:
    return WalletPublic.of(await change_status(wallets, wallet_id, WalletStatus.ACTIVE))
