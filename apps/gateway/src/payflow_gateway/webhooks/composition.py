"""Wiring of the webhook routes: one HTTP client of the webhooks service."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from payflow_gateway.modules import GatewayModule
from payflow_gateway.webhooks.api import COMPONENT_KEY, router
from payflow_service import ServiceRuntime


@contextlib.asynccontextmanager
async def compose_webhooks(runtime: ServiceRuntime) -> AsyncIterator[None]:
    client = runtime.client_for("webhooks")
    runtime.components[COMPONENT_KEY] = client
    try:
        yield
    finally:
        await client.aclose()


def webhooks_module() -> GatewayModule:
    return GatewayModule(routers=[router], compose=compose_webhooks)
