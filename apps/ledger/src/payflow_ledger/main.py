"""Composition root of the ledger service: the one place that wires its adapters."""

from __future__ import annotations

from fastapi import FastAPI

from payflow_ledger.settings import LedgerSettings
from payflow_service import create_service_app


def create_app(settings: LedgerSettings | None = None) -> FastAPI:
    settings = settings or LedgerSettings()
    return create_service_app(service="ledger", settings=settings)
