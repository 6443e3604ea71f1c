"""The wallet service's app: `create_app(settings)` (see `bootstrap` for what it wires)."""

from __future__ import annotations

from fastapi import FastAPI

from payflow_service import create_service_app
from payflow_wallet.adapters.mongo import OperationDocument, WalletDocument
from payflow_wallet.api import router
from payflow_wallet.bootstrap import compose
from payflow_wallet.problems import PROBLEMS
from payflow_wallet.settings import WalletSettings


def create_app(settings: WalletSettings | None = None) -> FastAPI:
    settings = settings or WalletSettings()
    return create_service_app(
        service="wallet",
        settings=settings,
        document_models=[WalletDocument, OperationDocument],
        routers=[router],
        compose=compose(settings),
        problems=PROBLEMS,
    )
