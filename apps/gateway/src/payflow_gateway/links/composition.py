"""Wiring of the payment-link routes: the orchestrator's payment-link API."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from payflow_gateway.links.api import COMPONENT_KEY, router
from payflow_gateway.links.pages import router as pages_router
from payflow_gateway.links.service import HttpPaymentLinkService
from payflow_gateway.modules import GatewayModule
from payflow_service import ServiceRuntime


@contextlib.asynccontextmanager
async def compose_links(runtime: ServiceRuntime) -> AsyncIterator[None]:
    orchestrator = runtime.client_for("orchestrator", timeout=15.0)
    runtime.components[COMPONENT_KEY] = HttpPaymentLinkService(orchestrator)
    try:
        yield
    finally:
        await orchestrator.aclose()


def links_module() -> GatewayModule:
    return GatewayModule(routers=[router, pages_router], compose=compose_links)
