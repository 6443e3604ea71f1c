"""Settings of the webhooks service (`PAYFLOW_*` variables)."""

from __future__ import annotations

from payflow_settings import ServiceSettings


class WebhooksSettings(ServiceSettings):
    service_name: str = "webhooks"
