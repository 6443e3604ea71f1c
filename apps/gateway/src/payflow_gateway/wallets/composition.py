"""Wiring of the wallet routes: HTTP clients of the wallet and ledger services."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from payflow_gateway.modules import GatewayModule
from payflow_gateway.wallets.api import router
from payflow_gateway.wallets.components import COMPONENT_KEY, WalletComponents
from payflow_gateway.wallets.directory import HttpWalletDirectory
from payflow_gateway.wallets.ledger import HttpLedgerReader
from payflow_service import ServiceRuntime


@contextlib.asynccontextmanager
async def compose_wallets(runtime: ServiceRuntime) -> AsyncIterator[None]:
    wallet_client = runtime.client_for("wallet")
    ledger_client = runtime.client_for("ledger")
    runtime.components[COMPONENT_KEY] = WalletComponents(
        directory=HttpWalletDirectory(wallet_client), ledger=HttpLedgerReader(ledger_client)
    )
    try:
        yield
    finally:
        await wallet_client.aclose()
        await ledger_client.aclose()


def wallets_module() -> GatewayModule:
    return GatewayModule(routers=[router], compose=compose_wallets)
