"""What the gateway refuses to start with in production, beyond placeholder secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from payflow_gateway.settings import GatewaySettings

SECRETS = {"internal_token": "i" * 40, "jwt_secret": "j" * 40, "redis_password": "p" * 24}


def settings(**values: object) -> GatewaySettings:
    return GatewaySettings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.mark.parametrize("rounds", [4, 9])
def test_cheap_password_hashes_are_refused_in_production(rounds: int) -> None:
    with pytest.raises(
        ValidationError, match=r"PAYFLOW_BCRYPT_ROUNDS is \d+; production needs at least 10"
    ):
        settings(env="production", bcrypt_rounds=rounds, **SECRETS)


def test_ten_rounds_or_more_start_in_production_and_tests_may_use_four() -> None:
    assert settings(env="production", bcrypt_rounds=10, **SECRETS).bcrypt_rounds == 10
    assert settings(env="production", **SECRETS).bcrypt_rounds == 12
    assert settings(env="test", bcrypt_rounds=4).bcrypt_rounds == 4


def test_the_bootstrap_password_is_checked_like_a_secret_in_production() -> None:
    admin = {"bootstrap_admin_email": "root@payflow.dev"}
    for weak in ("change-me", "short-pass", "admin-change-me-please"):
        with pytest.raises(
            ValidationError, match="PAYFLOW_BOOTSTRAP_ADMIN_PASSWORD is a placeholder"
        ):
            settings(env="production", bootstrap_admin_password=weak, **admin, **SECRETS)
    strong = settings(
        env="production", bootstrap_admin_password="a-long-real-password", **admin, **SECRETS
    )
    assert strong.bootstrap_admin_password is not None
    assert settings(env="test", bootstrap_admin_password="short", **admin).bootstrap_admin_email


@pytest.mark.parametrize("env", ["production", "development"])
def test_a_bootstrap_password_bcrypt_would_cut_is_a_clear_settings_error(env: str) -> None:
    with pytest.raises(ValidationError, match="PAYFLOW_BOOTSTRAP_ADMIN_PASSWORD is 80 bytes"):
        settings(
            env=env,
            bootstrap_admin_email="root@payflow.dev",
            bootstrap_admin_password="é" * 40,
            **SECRETS,
        )
