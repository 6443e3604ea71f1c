"""Settings of the ledger service (`PAYFLOW_*` variables)."""

from __future__ import annotations

from pydantic import Field

from payflow_settings import ServiceSettings


class LedgerSettings(ServiceSettings):
    service_name: str = "ledger"
    command_concurrency: int = Field(default=16, ge=1)
    stream_claim_idle_ms: int = Field(default=15_000, gt=0)
    stream_max_deliveries: int = Field(default=10, ge=1)
    stream_block_ms: int = Field(default=1_000, gt=0)
    stream_reclaim_interval_s: float = Field(default=2.0, gt=0)
