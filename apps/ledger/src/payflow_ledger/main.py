"""The ledger service's app: `create_app(settings)` (served by `python -m payflow_ledger`)."""

from __future__ import annotations

from fastapi import FastAPI

from payflow_ledger.api import router
from payflow_ledger.bootstrap import DOCUMENT_MODELS, compose
from payflow_ledger.problems import PROBLEMS
from payflow_ledger.settings import LedgerSettings
from payflow_service import create_service_app


def create_app(settings: LedgerSettings | None = None) -> FastAPI:
    settings = settings or LedgerSettings()
    return create_service_app(
        service="ledger",
        settings=settings,
        document_models=DOCUMENT_MODELS,
        routers=[router],
        compose=compose(settings),
        problems=PROBLEMS,
    )
