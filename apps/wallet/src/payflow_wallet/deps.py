"""Typed dependencies of the wallet's routes, taken from the composed `Components`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from payflow_service.components import provider
from payflow_wallet.bootstrap import Components
from payflow_wallet.ports import WalletRepository
from payflow_wallet.settings import WalletSettings

_components = provider(Components)
Comps = Annotated[Components, Depends(_components)]


async def _wallets(c: Comps) -> WalletRepository:
    return c.wallets


async def _settings(c: Comps) -> WalletSettings:
    return c.settings


Wallets = Annotated[WalletRepository, Depends(_wallets)]
Settings = Annotated[WalletSettings, Depends(_settings)]
