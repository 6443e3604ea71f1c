"""Settings of the gateway service (`PAYFLOW_*` variables): stores, signing keys, token lifetimes."""

from __future__ import annotations

from typing import Literal, Self

import limits
from pydantic import Field, SecretStr, field_validator, model_validator

from payflow_gateway.auth.passwords import MAX_PASSWORD_BYTES
from payflow_settings import ServiceSettings
from payflow_settings.base import SettingsError

# HS256 needs a key at least as long as its hash output (RFC 7518 section 3.2).
MIN_JWT_SECRET_BYTES = 32
# OWASP's floor for bcrypt; each step doubles the work of a guess (and of a login).
MIN_PRODUCTION_BCRYPT_ROUNDS = 10


class GatewaySettings(ServiceSettings):
    service_name: str = "gateway"

    idempotency_lock_s: float = Field(default=30.0, gt=0)
    """How long a request holds its Idempotency-Key before a retry may take over (the first
    request's process died); the orchestrator's unique key keeps the retry to one transfer."""

    idempotency_store: Literal["redis", "mongo"] = "redis"
    """Where Idempotency-Key records live: Redis (no document-store command per payment) or
    MongoDB (survives a Redis that loses its data). Either way the orchestrator keeps one
    transfer per (user, key) in its own store."""

    jwt_secret: SecretStr = SecretStr("dev-jwt-secret-change-me-please-0123456789")
    jwt_key_id: str = Field(default="k1", pattern=r"^[A-Za-z0-9._\-]{1,32}$")
    """The `kid` written into new tokens; name a new one whenever the secret changes."""
    jwt_previous_secrets: SecretStr = SecretStr("")
    """Keys still accepted after a rotation: comma-separated `kid:secret` pairs."""
    jwt_issuer: str = "payflow-gateway"
    jwt_audience: str = "payflow"
    jwt_access_ttl_seconds: int = Field(default=15 * 60, gt=0)
    jwt_refresh_ttl_seconds: int = Field(default=7 * 24 * 3600, gt=0)

    bcrypt_rounds: int = Field(default=12, ge=4, le=31)
    """Cost of password hashes; production refuses less than 10 (tests use 4 for speed)."""

    max_request_body_bytes: int = Field(default=64 * 1024, ge=1024)
    """Request bodies above this many bytes are refused with 413 before they are read."""

    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    """Serves the Prometheus metrics on this port too; in production only there, never on the
    public port (keep this one off the public network)."""

    bootstrap_admin_email: str | None = None
    bootstrap_admin_password: SecretStr | None = None

    # Rate limits, in `limits` notation ("600/minute", or several: "30/minute;300/hour"), kept in
    # Redis so that every gateway replica draws on the same budgets. The defaults stay out of the
    # way of honest heavy use (a whole office behind one address, a busy integration); see
    # docs/phases/PHASE-8-HARDENING.md.
    rate_limits_enabled: bool = True
    rate_limit_auth_per_ip: str = "1200/minute"
    """Login, registration, refresh and logout from one client address."""
    rate_limit_login_per_email: str = "30/minute;300/hour"
    """Login attempts for one email, from all addresses together."""
    rate_limit_money_per_principal: str = "600/minute"
    """Transfers, top-ups and refunds by one user or API key."""
    rate_limit_money_per_ip: str = "6000/minute"
    rate_limit_reads_per_principal: str = "6000/minute"
    """Every other /v1 request by one user or API key."""
    rate_limit_reads_per_ip: str = "60000/minute"
    login_lockout_after_failures: int = Field(default=5, ge=1)
    """Failed logins in a row, for one email from one address, before the login is locked."""
    login_lockout_base_s: float = Field(default=1.0, gt=0)
    """The first lock; each further failure doubles it."""
    login_lockout_max_s: float = Field(default=900.0, gt=0)
    login_failures_forgotten_after_s: float = Field(default=900.0, gt=0)
    max_streams_per_user: int = Field(default=10, ge=1)
    """Transfer streams (server-sent events) one user may hold open at once."""
    max_api_keys_per_user: int = Field(default=20, ge=1)
    """Active API keys one user may hold; one more is refused with 409 `quota_exceeded`
    (exactly, however many are created at once). Revoking a key frees its place."""

    public_base_url: str | None = None
    """Where browsers reach the gateway (`https://pay.example.com`): payment-link URLs and their
    QR codes are made from it. Default: `http://127.0.0.1:<PAYFLOW_GATEWAY_PORT>`."""

    def public_base(self) -> str:
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        return f"http://127.0.0.1:{self.gateway_port}"

    @field_validator(
        "rate_limit_auth_per_ip",
        "rate_limit_login_per_email",
        "rate_limit_money_per_principal",
        "rate_limit_money_per_ip",
        "rate_limit_reads_per_principal",
        "rate_limit_reads_per_ip",
    )
    @classmethod
    def _is_limits_notation(cls, value: str) -> str:
        try:
            limits.parse_many(value)
        except ValueError:
            raise SettingsError(
                f"{value!r} is not a rate limit such as '600/minute' or '30/minute;300/hour'"
            ) from None
        return value

    def signing_keys(self) -> dict[str, str]:
        """Every accepted `kid` and its secret, the current key first."""
        keys = {self.jwt_key_id: self.jwt_secret.get_secret_value()}
        for kid, secret in parse_previous_secrets(self.jwt_previous_secrets.get_secret_value()):
            keys.setdefault(kid, secret)
        return keys

    def secrets_to_check(self) -> dict[str, SecretStr]:
        checked = {**super().secrets_to_check(), "jwt_secret": self.jwt_secret}
        if self.bootstrap_admin_password is not None:
            checked["bootstrap_admin_password"] = self.bootstrap_admin_password
        for kid, secret in parse_previous_secrets(self.jwt_previous_secrets.get_secret_value()):
            checked[f"jwt_previous_secrets ({kid})"] = SecretStr(secret)
        return checked

    @model_validator(mode="after")
    def _signing_keys_are_long_enough(self) -> Self:
        for kid, secret in self.signing_keys().items():
            if len(secret.encode()) < MIN_JWT_SECRET_BYTES:
                raise SettingsError(
                    f"the JWT signing key {kid!r} is shorter than {MIN_JWT_SECRET_BYTES} bytes"
                )
        if bool(self.bootstrap_admin_email) != bool(self.bootstrap_admin_password):
            raise SettingsError(
                "set both PAYFLOW_BOOTSTRAP_ADMIN_EMAIL and PAYFLOW_BOOTSTRAP_ADMIN_PASSWORD, or neither"
            )
        return self

    @model_validator(mode="after")
    def _bootstrap_password_fits_bcrypt(self) -> Self:
        # In production it is also checked like every secret (`secrets_to_check`).
        if self.bootstrap_admin_password is not None:
            size = len(self.bootstrap_admin_password.get_secret_value().encode())
            if size > MAX_PASSWORD_BYTES:
                raise SettingsError(
                    f"PAYFLOW_BOOTSTRAP_ADMIN_PASSWORD is {size} bytes; bcrypt uses at most "
                    f"{MAX_PASSWORD_BYTES} (UTF-8), so choose a shorter one"
                )
        return self

    @model_validator(mode="after")
    def _passwords_are_hashed_hard_enough(self) -> Self:
        if self.is_production and self.bcrypt_rounds < MIN_PRODUCTION_BCRYPT_ROUNDS:
            raise SettingsError(
                f"PAYFLOW_BCRYPT_ROUNDS is {self.bcrypt_rounds}; production needs at least "
                f"{MIN_PRODUCTION_BCRYPT_ROUNDS}"
            )
        return self


def parse_previous_secrets(value: str) -> list[tuple[str, str]]:
    """`"k0:secret0,k-old:secret1"` -> pairs; a secret may contain ':' but not ','."""
    pairs: list[tuple[str, str]] = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        kid, sep, secret = item.partition(":")
        if not sep or not kid.strip() or not secret:
            raise SettingsError(
                "PAYFLOW_JWT_PREVIOUS_SECRETS must be comma-separated kid:secret pairs"
            )
        pairs.append((kid.strip(), secret))
    return pairs
