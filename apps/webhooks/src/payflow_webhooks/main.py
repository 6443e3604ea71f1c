"""Composition root of the webhooks service: the one place that wires its adapters."""

from __future__ import annotations

from fastapi import FastAPI

from payflow_service import create_service_app
from payflow_webhooks.settings import WebhooksSettings


def create_app(settings: WebhooksSettings | None = None) -> FastAPI:
    settings = settings or WebhooksSettings()
    return create_service_app(service="webhooks", settings=settings)
