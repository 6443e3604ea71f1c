"""Settings of the orchestrator service (`PAYFLOW_*` variables)."""

from __future__ import annotations

from payflow_settings import ServiceSettings


class OrchestratorSettings(ServiceSettings):
    service_name: str = "orchestrator"
