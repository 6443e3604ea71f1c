"""Settings of the wallet service (`PAYFLOW_*` variables)."""

from __future__ import annotations

from payflow_settings import ServiceSettings


class WalletSettings(ServiceSettings):
    service_name: str = "wallet"
