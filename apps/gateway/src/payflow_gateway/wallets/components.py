"""The wallet-route objects the composition root builds, as the routes find them."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from payflow_gateway.wallets.directory import WalletDirectory
from payflow_gateway.wallets.ledger import LedgerReader

COMPONENT_KEY = "wallets"


@dataclass(frozen=True)
class WalletComponents:
    directory: WalletDirectory
    ledger: LedgerReader


async def wallet_components(request: Request) -> WalletComponents:
    components: WalletComponents = request.app.state.runtime.components[COMPONENT_KEY]
    return components
