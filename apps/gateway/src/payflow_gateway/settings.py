"""Settings of the gateway service (`PAYFLOW_*` variables)."""

from __future__ import annotations

from payflow_settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    service_name: str = "gateway"
