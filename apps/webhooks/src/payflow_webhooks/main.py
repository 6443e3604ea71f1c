"""The webhooks service's app: its internal API over the components `bootstrap.compose` wires."""

from __future__ import annotations

from fastapi import FastAPI

from payflow_service import create_service_app
from payflow_webhooks.adapters.mongo import DOCUMENT_MODELS
from payflow_webhooks.api import ROUTERS
from payflow_webhooks.bootstrap import compose
from payflow_webhooks.problems import PROBLEMS
from payflow_webhooks.settings import WebhooksSettings


def create_app(settings: WebhooksSettings | None = None) -> FastAPI:
    settings = settings or WebhooksSettings()
    return create_service_app(
        service="webhooks",
        settings=settings,
        document_models=DOCUMENT_MODELS,
        routers=ROUTERS,
        compose=compose(settings),
        problems=PROBLEMS,
    )
