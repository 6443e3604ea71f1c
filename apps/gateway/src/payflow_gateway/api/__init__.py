"""The public API: one router module per resource, their bodies in `api/schemas.py`."""

from __future__ import annotations

from fastapi import APIRouter

from payflow_gateway.api.admin import admin_router
from payflow_gateway.api.auth import api_keys_router, auth_router
from payflow_gateway.api.links import router as links_router
from payflow_gateway.api.operations import sandbox_router
from payflow_gateway.api.pages import router as pages_router
from payflow_gateway.api.statements import router as statements_router
from payflow_gateway.api.transfers import router as transfers_router
from payflow_gateway.api.wallets import router as wallets_router
from payflow_gateway.api.webhooks import router as webhooks_router

ROUTERS: list[APIRouter] = [
    wallets_router,
    auth_router,
    api_keys_router,
    admin_router,
    statements_router,  # before transfers: /v1/transfers/export.csv before /{transfer_id}
    transfers_router,
    sandbox_router,
    links_router,
    pages_router,
    webhooks_router,
]
