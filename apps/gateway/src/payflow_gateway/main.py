"""Composition root of the gateway service: the one place that wires its adapters."""

from __future__ import annotations

from fastapi import FastAPI

from payflow_gateway.settings import GatewaySettings
from payflow_service import create_service_app


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    return create_service_app(service="gateway", settings=settings)
