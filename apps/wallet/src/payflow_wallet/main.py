"""Composition root of the wallet service: the one place that wires its adapters."""

from __future__ import annotations

from fastapi import FastAPI

from payflow_service import create_service_app
from payflow_wallet.settings import WalletSettings


def create_app(settings: WalletSettings | None = None) -> FastAPI:
    settings = settings or WalletSettings()
    return create_service_app(service="wallet", settings=settings)
