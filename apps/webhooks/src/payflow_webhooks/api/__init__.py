"""The webhooks service's internal HTTP API (called by the gateway with the service token)."""

from payflow_webhooks.api.deliveries_api import router as deliveries_router
from payflow_webhooks.api.endpoints_api import router as endpoints_router
from payflow_webhooks.api.events_api import router as events_router

ROUTERS = (endpoints_router, deliveries_router, events_router)

__all__ = ["ROUTERS"]
