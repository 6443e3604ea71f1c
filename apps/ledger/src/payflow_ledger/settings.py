"""Settings of the ledger service (`PAYFLOW_*` variables)."""

from __future__ import annotations

from payflow_settings import ServiceSettings


class LedgerSettings(ServiceSettings):
    service_name: str = "ledger"
