"""Freezing and unfreezing a wallet (the internal API's status changes)."""

from __future__ import annotations

from payflow_contracts.clock import Clock, utc_now
from payflow_wallet.domain.errors import WalletBusy, WalletNotFound
from payflow_wallet.domain.wallet import Wallet, WalletStatus, with_status
from payflow_wallet.ports import WalletRepository

_ATTEMPTS = 16


async def change_status(
    wallets: WalletRepository, wallet_id: str, target: WalletStatus, clock: Clock = utc_now
) -> Wallet:
    """Move the wallet to `target` (idempotent) and return it as stored.

    `WalletNotFound`, `WalletClosed` (a closed wallet stays closed), or `WalletBusy` when its
    status kept changing under every attempt."""
    # Guarded on the status read: if a concurrent change moved it, read and decide again.
    for _ in range(_ATTEMPTS):
        wallet = await wallets.get(wallet_id)
        if wallet is None:
            raise WalletNotFound(wallet_id)
        with_status(wallet, target, clock())  # raises WalletClosed
        if wallet.status is target:
            return wallet
        if await wallets.set_status(wallet_id, target, frozenset({wallet.status})):
            stored = await wallets.get(wallet_id)
            assert stored is not None
            return stored
    raise WalletBusy(wallet_id)
