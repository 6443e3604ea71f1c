"""Gateway settings: signing keys, key rotation list, placeholders refused in production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from payflow_gateway.settings import GatewaySettings, parse_previous_secrets

REAL = "r" * 40


def settings(**values: object) -> GatewaySettings:
    return GatewaySettings(_env_file=None, **values)  # type: ignore[call-arg]


def test_previous_secrets_are_kid_secret_pairs_and_a_secret_may_hold_a_colon() -> None:
    assert parse_previous_secrets(" k0:abc:def , k-1:xyz ,") == [("k0", "abc:def"), ("k-1", "xyz")]


@pytest.mark.parametrize("value", ["nokid", ":secret", "k0:"])
def test_a_malformed_previous_secret_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="kid:secret"):
        parse_previous_secrets(value)


def test_signing_keys_put_the_current_key_first_and_keep_previous_ones() -> None:
    configured = settings(jwt_secret=REAL, jwt_key_id="k2", jwt_previous_secrets="k1:" + "p" * 40)
    assert list(configured.signing_keys().items()) == [("k2", REAL), ("k1", "p" * 40)]


def test_the_placeholder_signing_key_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        settings(env="production", internal_token="i" * 40)


def test_a_placeholder_previous_key_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="JWT_PREVIOUS_SECRETS"):
        settings(
            env="production",
            internal_token="i" * 40,
            jwt_secret=REAL,
            jwt_previous_secrets="k0:dev-jwt-secret-change-me-please-0123456789",
        )


def test_real_secrets_start_in_production() -> None:
    assert settings(
        env="production", internal_token="i" * 40, jwt_secret=REAL, redis_password="p" * 24
    ).is_production


def test_the_placeholder_is_accepted_in_development_and_test() -> None:
    assert settings(env="test").jwt_secret.get_secret_value()
    assert settings(env="development").jwt_secret.get_secret_value()


def test_a_signing_key_shorter_than_32_bytes_is_refused_everywhere() -> None:
    with pytest.raises(ValidationError, match="shorter than 32 bytes"):
        settings(env="test", jwt_secret="short-but-not-a-placeholder")


def test_the_bootstrap_admin_needs_both_email_and_password() -> None:
    with pytest.raises(ValidationError, match="BOOTSTRAP_ADMIN"):
        settings(bootstrap_admin_email="admin@payflow.dev")


def test_bcrypt_cost_defaults_to_12() -> None:
    assert settings().bcrypt_rounds == 12
