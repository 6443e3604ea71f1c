"""Composition root of webhooks-worker: health and metrics over HTTP, the ARQ worker beside it."""

from __future__ import annotations

from fastapi import FastAPI

from payflow_service import create_service_app
from payflow_webhooks.settings import WebhooksSettings


def create_app(settings: WebhooksSettings | None = None) -> FastAPI:
    settings = settings or WebhooksSettings(service_name="webhooks")
    return create_service_app(service="webhooks-worker", settings=settings)
