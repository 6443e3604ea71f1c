"""The orchestrator's app: its internal API over the components `bootstrap.compose` wires."""

from __future__ import annotations

from fastapi import FastAPI

from payflow_orchestrator.adapters.mongo import DOCUMENT_MODELS
from payflow_orchestrator.api import links_router, router
from payflow_orchestrator.bootstrap import compose
from payflow_orchestrator.problems import PROBLEMS
from payflow_orchestrator.settings import OrchestratorSettings
from payflow_service import create_service_app


def create_app(settings: OrchestratorSettings | None = None) -> FastAPI:
    settings = settings or OrchestratorSettings()
    return create_service_app(
        service="orchestrator",
        settings=settings,
        document_models=DOCUMENT_MODELS,
        routers=[router, links_router],
        compose=compose(settings),
        problems=PROBLEMS,
    )
