"""Composition root of the orchestrator service: the one place that wires its adapters."""

from __future__ import annotations

from fastapi import FastAPI

from payflow_orchestrator.settings import OrchestratorSettings
from payflow_service import create_service_app


def create_app(settings: OrchestratorSettings | None = None) -> FastAPI:
    settings = settings or OrchestratorSettings()
    return create_service_app(service="orchestrator", settings=settings)
