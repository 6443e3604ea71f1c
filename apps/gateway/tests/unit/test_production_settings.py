"""What the gateway refuses to start with in production, beyond placeholder secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from payflow_gateway.settings import GatewaySettings

SECRETS = {"internal_token": "i" * 40, "jwt_secret": "j" * 40}


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
