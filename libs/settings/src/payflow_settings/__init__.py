"""Settings shared by every PayFlow process, read from `PAYFLOW_*` variables and `.env`."""

from payflow_settings.base import (
    DEFAULT_PORTS,
    PLACEHOLDER_SECRETS,
    BusSettings,
    Environment,
    ServiceSettings,
    SettingsError,
)

__all__ = [
    "DEFAULT_PORTS",
    "PLACEHOLDER_SECRETS",
    "BusSettings",
    "Environment",
    "ServiceSettings",
    "SettingsError",
]
