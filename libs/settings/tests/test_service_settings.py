"""Settings come from PAYFLOW_* variables; production refuses placeholder secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from payflow_settings import BusSettings, ServiceSettings


def test_defaults_suit_a_developer_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PAYFLOW_ENV", "PAYFLOW_WALLET_PORT", "PAYFLOW_WALLET_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = ServiceSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.env.value == "development"
    assert settings.host == "127.0.0.1"
    assert settings.url_of("wallet") == "http://127.0.0.1:8002"
    assert settings.currency_list == ("USD", "EUR", "GBP", "INR", "JPY")
    assert settings.max_transfer_amount == 100_000_000


def test_variables_with_the_payflow_prefix_override_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYFLOW_WALLET_PORT", "9102")
    monkeypatch.setenv("PAYFLOW_LEDGER_URL", "http://ledger:8003/")
    monkeypatch.setenv("PAYFLOW_STREAM_PREFIX", "run42")
    settings = ServiceSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.url_of("wallet") == "http://127.0.0.1:9102"
    assert settings.url_of("ledger") == "http://ledger:8003"
    assert settings.streams.wallet_commands == "run42:stream:wallet-commands"


@pytest.mark.parametrize("token", ["dev-internal-token-change-me", "change-me", "short"])
def test_production_refuses_a_placeholder_service_token(
    monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    monkeypatch.setenv("PAYFLOW_ENV", "production")
    monkeypatch.setenv("PAYFLOW_INTERNAL_TOKEN", token)
    with pytest.raises(ValidationError, match="placeholder or too short"):
        ServiceSettings(_env_file=None)  # type: ignore[call-arg]


def test_production_accepts_a_real_service_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYFLOW_ENV", "production")
    monkeypatch.setenv("PAYFLOW_INTERNAL_TOKEN", "q8Jx2v0LrT5nWm3kPz7yHb4c")
    monkeypatch.setenv("PAYFLOW_REDIS_PASSWORD", "Vt3nq8Rk2LmZx7Pw")
    assert ServiceSettings(_env_file=None).is_production  # type: ignore[call-arg]


def settings(cls: type[ServiceSettings] = ServiceSettings, **values: object) -> ServiceSettings:
    return cls(_env_file=None, **values)  # type: ignore[call-arg]


REAL_TOKEN = "q8Jx2v0LrT5nWm3kPz7yHb4c"


def test_the_redis_password_goes_into_the_connection_url_unless_the_url_has_one() -> None:
    plain = settings(redis_url="redis://redis:6379/0")
    assert plain.redis_connection_url == "redis://redis:6379/0"
    assert not plain.redis_has_password
    given = settings(redis_url="redis://redis:6379/0", redis_password="p@ss/w:rd")
    assert given.redis_connection_url == "redis://:p%40ss%2Fw%3Ard@redis:6379/0"
    assert given.redis_has_password
    with_user = settings(redis_url="rediss://payflow@redis:6380/1", redis_password="pw")
    assert with_user.redis_connection_url == "rediss://payflow:pw@redis:6380/1"
    in_url = settings(redis_url="redis://:fromurl@redis:6379/0", redis_password="other")
    assert in_url.redis_connection_url == "redis://:fromurl@redis:6379/0"


def test_production_refuses_a_redis_without_a_password() -> None:
    with pytest.raises(ValidationError, match="PAYFLOW_REDIS_PASSWORD is not set"):
        settings(env="production", internal_token=REAL_TOKEN)
    assert settings(
        env="production", internal_token=REAL_TOKEN, redis_url="redis://:Vt3nq8Rk2LmZx7Pw@r:6379"
    ).is_production


@pytest.mark.parametrize("password", ["dev-redis-password-change-me", "short"])
def test_production_refuses_a_placeholder_redis_password(password: str) -> None:
    with pytest.raises(ValidationError, match="REDIS_PASSWORD is a placeholder"):
        settings(env="production", internal_token=REAL_TOKEN, redis_password=password)
    with pytest.raises(ValidationError, match=r"REDIS_URL \(ITS PASSWORD\) is a placeholder"):
        settings(
            env="production", internal_token=REAL_TOKEN, redis_url=f"redis://:{password}@r:6379"
        )


BUS_KEY = "k" * 32


def test_bus_keys_are_a_list_with_the_current_key_first() -> None:
    bus = settings(BusSettings, bus_signing_keys=f" {BUS_KEY}, {'o' * 40} ")
    assert isinstance(bus, BusSettings)
    assert bus.bus_keys() == (BUS_KEY, "o" * 40)


def test_a_bus_key_shorter_than_32_characters_is_refused_everywhere() -> None:
    with pytest.raises(ValidationError, match="key 2 is shorter than 32 characters"):
        settings(BusSettings, env="test", bus_signing_keys=f"{BUS_KEY},short")
    with pytest.raises(ValidationError, match="key 1 is shorter than 32 characters"):
        settings(BusSettings, env="test", bus_signing_keys="")


def test_production_refuses_the_placeholder_bus_key_but_accepts_real_ones() -> None:
    real = {"internal_token": REAL_TOKEN, "redis_password": "Vt3nq8Rk2LmZx7Pw"}
    with pytest.raises(ValidationError, match=r"BUS_SIGNING_KEYS \(KEY 1\) is a placeholder"):
        settings(BusSettings, env="production", **real)
    with pytest.raises(ValidationError, match=r"BUS_SIGNING_KEYS \(KEY 2\) is a placeholder"):
        settings(
            BusSettings,
            env="production",
            bus_signing_keys=f"{BUS_KEY},dev-bus-signing-key-change-me-0123456789",
            **real,
        )
    assert settings(BusSettings, env="production", bus_signing_keys=BUS_KEY, **real).is_production


def test_a_dotenv_file_is_read(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    env_file = Path(str(tmp_path)) / ".env"
    env_file.write_text("PAYFLOW_DEFAULT_CURRENCY=EUR\n")
    monkeypatch.delenv("PAYFLOW_DEFAULT_CURRENCY", raising=False)
    assert ServiceSettings(_env_file=env_file).default_currency == "EUR"  # type: ignore[call-arg]
