"""Settings of the ledger service (`PAYFLOW_*` variables)."""

from __future__ import annotations

from pydantic import Field

from payflow_settings import BusSettings


class LedgerSettings(BusSettings):
    service_name: str = "ledger"
    command_concurrency: int = Field(default=16, ge=1)
