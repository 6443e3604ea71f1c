"""The base settings class every process extends; placeholder secrets are refused in production."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from payflow_contracts.streams import StreamNames


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class SettingsError(ValueError):
    """A setting that the process must not start with."""


DEFAULT_PORTS: dict[str, int] = {
    "gateway": 8000,
    "orchestrator": 8001,
    "wallet": 8002,
    "ledger": 8003,
    "webhooks": 8004,
    "webhooks-worker": 8005,
}

PLACEHOLDER_SECRETS = frozenset(
    {
        "",
        "change-me",
        "changeme",
        "dev-internal-token-change-me",
        "dev-jwt-secret-change-me-please-0123456789",
        "secret",
    }
)


class ServiceSettings(BaseSettings):
    """What every service needs: where its stores are, how to reach the others, how to log."""

    model_config = SettingsConfigDict(
        env_prefix="PAYFLOW_", env_file=".env", extra="ignore", case_sensitive=False
    )

    env: Environment = Environment.DEVELOPMENT
    service_name: str = "payflow"
    host: str = "127.0.0.1"

    mongo_url: str = "mongodb://127.0.0.1:37017"
    redis_url: str = "redis://127.0.0.1:6380/0"
    database_prefix: str = "payflow"
    stream_prefix: str = "payflow"
    """Prefix of every Redis key and stream name (tests use a unique one per run)."""

    internal_token: SecretStr = SecretStr("dev-internal-token-change-me")
    log_level: str = "INFO"
    run_dir: Path = Path(".payflow/run")

    gateway_port: int = DEFAULT_PORTS["gateway"]
    orchestrator_port: int = DEFAULT_PORTS["orchestrator"]
    wallet_port: int = DEFAULT_PORTS["wallet"]
    ledger_port: int = DEFAULT_PORTS["ledger"]
    webhooks_port: int = DEFAULT_PORTS["webhooks"]
    webhooks_worker_port: int = DEFAULT_PORTS["webhooks-worker"]

    orchestrator_url: str | None = None
    wallet_url: str | None = None
    ledger_url: str | None = None
    webhooks_url: str | None = None

    stream_claim_idle_ms: int = Field(default=15_000, gt=0)
    """A message pending this long (its consumer died or failed) is reclaimed by another."""
    stream_max_deliveries: int = Field(default=10, ge=1)
    """Deliveries after which a message goes to the dead-letter stream."""
    stream_block_ms: int = Field(default=1_000, gt=0)
    stream_reclaim_interval_s: float = Field(default=2.0, gt=0)
    remembered_max_age_s: float = Field(default=30.0, gt=0)
    """How long a replica trusts a remembered user, endpoint or fault rule without reloading it,
    even if no change was signalled (bounds staleness after a Redis that lost its last writes)."""

    currencies: str = "USD,EUR,GBP,INR,JPY"
    default_currency: str = "USD"
    max_transfer_amount: int = Field(default=100_000_000, gt=0)

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def streams(self) -> StreamNames:
        return StreamNames(self.stream_prefix)

    @property
    def currency_list(self) -> tuple[str, ...]:
        return tuple(c.strip() for c in self.currencies.split(",") if c.strip())

    @property
    def database_name(self) -> str:
        return f"{self.database_prefix}_{self.service_name.replace('-', '_')}"

    def port_of(self, service: str) -> int:
        return int(getattr(self, f"{service.replace('-', '_')}_port"))

    def url_of(self, service: str) -> str:
        explicit: str | None = getattr(self, f"{service.replace('-', '_')}_url", None)
        if explicit:
            return explicit.rstrip("/")
        return f"http://127.0.0.1:{self.port_of(service)}"

    def secrets_to_check(self) -> dict[str, SecretStr]:
        """The secrets that must not be placeholders in production; subclasses add theirs."""
        return {"internal_token": self.internal_token}

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> Self:
        if self.env is Environment.PRODUCTION:
            for name, secret in self.secrets_to_check().items():
                value = secret.get_secret_value()
                if value in PLACEHOLDER_SECRETS or "change-me" in value or len(value) < 16:
                    raise SettingsError(
                        f"PAYFLOW_{name.upper()} is a placeholder or too short; "
                        "set a real secret of 16+ characters in production"
                    )
        return self
