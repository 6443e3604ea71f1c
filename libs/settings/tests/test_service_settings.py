"""Settings come from PAYFLOW_* variables; production refuses placeholder secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from payflow_settings import ServiceSettings


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
    assert ServiceSettings(_env_file=None).is_production  # type: ignore[call-arg]


def test_a_dotenv_file_is_read(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    env_file = Path(str(tmp_path)) / ".env"
    env_file.write_text("PAYFLOW_DEFAULT_CURRENCY=EUR\n")
    monkeypatch.delenv("PAYFLOW_DEFAULT_CURRENCY", raising=False)
    assert ServiceSettings(_env_file=env_file).default_currency == "EUR"  # type: ignore[call-arg]
