"""The webhooks-worker process's app: `/healthz`, `/readyz` and `/metrics` over the loops
`worker.bootstrap.compose` starts (no routes of its own)."""

from __future__ import annotations

from fastapi import FastAPI

from payflow_service import create_service_app
from payflow_webhooks.adapters.mongo import DOCUMENT_MODELS
from payflow_webhooks.settings import WebhooksWorkerSettings
from payflow_webhooks.worker.bootstrap import compose


def create_app(settings: WebhooksWorkerSettings | None = None) -> FastAPI:
    settings = settings or WebhooksWorkerSettings(service_name="webhooks")
    return create_service_app(
        service="webhooks-worker",
        settings=settings,
        document_models=DOCUMENT_MODELS,
        compose=compose(settings),
    )
