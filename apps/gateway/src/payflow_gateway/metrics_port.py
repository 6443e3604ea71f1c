"""Where the gateway's Prometheus metrics are served: never on the public port in production.

The gateway is the one process clients reach, and `/metrics` tells whoever reads it the routes,
their traffic and their failures. So in production the public port does not serve it; with
`PAYFLOW_METRICS_PORT` set, the same metrics are served on that port (any environment), which the
deployment keeps off the public network (no published port, no Service port, no ingress) and
Prometheus scrapes. Outside production the public `/metrics` stays, as on every other service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from prometheus_client import REGISTRY, start_http_server
from starlette.routing import BaseRoute

from payflow_gateway.settings import GatewaySettings
from payflow_service import ServiceRuntime

logger = logging.getLogger(__name__)

METRICS_PATH = "/metrics"


def without_public_metrics(app: FastAPI) -> None:
    """Removes `/metrics` from the public app (production)."""
    kept: list[BaseRoute] = [
        route for route in app.router.routes if getattr(route, "path", None) != METRICS_PATH
    ]
    app.router.routes[:] = kept


@contextlib.asynccontextmanager
async def serve_metrics_port(runtime: ServiceRuntime) -> AsyncIterator[None]:
    settings = runtime.settings
    assert isinstance(settings, GatewaySettings)
    if settings.metrics_port is None:
        if settings.is_production:
            logger.warning("PAYFLOW_METRICS_PORT is not set: the gateway's metrics are not served")
        yield
        return
    server, thread = start_http_server(settings.metrics_port, settings.host, REGISTRY)
    logger.info("metrics served on %s:%s", settings.host, settings.metrics_port)
    try:
        yield
    finally:
        await asyncio.to_thread(server.shutdown)
        server.server_close()
        thread.join(timeout=5)
