"""The base settings class every process extends; placeholder secrets are refused in production."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Self
from urllib.parse import quote, urlsplit, urlunsplit

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
        "dev-redis-password-change-me",
        "dev-bus-signing-key-change-me-0123456789",
        "secret",
    }
)
DEV_BUS_SIGNING_KEY = "dev-bus-signing-key-change-me-0123456789"
# HMAC-SHA256: a key at least as long as the hash output.
MIN_BUS_KEY_LENGTH = 32


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
    redis_password: SecretStr | None = None
    """Redis's password (`requirepass`), when `redis_url` carries none; required in production
    (in one or the other)."""
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
    def redis_connection_url(self) -> str:
        """`redis_url`, with `redis_password` in it when the URL has no password of its own."""
        parts = urlsplit(self.redis_url)
        if self.redis_password is None or parts.password is not None:
            return self.redis_url
        secret = quote(self.redis_password.get_secret_value(), safe="")
        user = quote(parts.username, safe="") if parts.username else ""
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=f"{user}:{secret}@{host}"))

    @property
    def redis_has_password(self) -> bool:
        return self.redis_password is not None or urlsplit(self.redis_url).password is not None

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
        checked = {"internal_token": self.internal_token}
        url_password = urlsplit(self.redis_url).password
        if url_password is not None:
            checked["redis_url (its password)"] = SecretStr(url_password)
        elif self.redis_password is not None:
            checked["redis_password"] = self.redis_password
        return checked

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
            if not self.redis_has_password:
                raise SettingsError(
                    "PAYFLOW_REDIS_PASSWORD is not set and PAYFLOW_REDIS_URL carries no password; "
                    "production needs a Redis that requires one"
                )
        return self


class BusSettings(ServiceSettings):
    """Settings of a process on the saga bus (Redis Streams): it holds the keys that sign and
    verify every stream message. The gateway and the webhooks worker are not on the bus and do
    not hold them."""

    bus_signing_keys: SecretStr = SecretStr(DEV_BUS_SIGNING_KEY)
    """Comma-separated HMAC keys, the current one first: messages are signed with the first and
    accepted when signed with any (a rotation adds the new key second, then moves it first, then
    drops the old one). Each at least 32 characters, without commas."""

    def bus_keys(self) -> tuple[str, ...]:
        return tuple(k.strip() for k in self.bus_signing_keys.get_secret_value().split(","))

    def secrets_to_check(self) -> dict[str, SecretStr]:
        checked = super().secrets_to_check()
        for number, key in enumerate(self.bus_keys(), start=1):
            checked[f"bus_signing_keys (key {number})"] = SecretStr(key)
        return checked

    @model_validator(mode="after")
    def _bus_keys_are_long_enough(self) -> Self:
        for number, key in enumerate(self.bus_keys(), start=1):
            if len(key) < MIN_BUS_KEY_LENGTH:
                raise SettingsError(
                    f"PAYFLOW_BUS_SIGNING_KEYS: key {number} is shorter than "
                    f"{MIN_BUS_KEY_LENGTH} characters"
                )
        return self
