"""Pure rules of the Idempotency-Key header."""

from __future__ import annotations

import pytest

from payflow_gateway.domain.errors import KeyProblem
from payflow_gateway.domain.idempotency import check_key, fingerprint, record_id


def test_a_missing_key_is_its_own_problem() -> None:
    with pytest.raises(KeyProblem) as caught:
        check_key(None)
    assert caught.value.code == "idempotency_key_missing"


@pytest.mark.parametrize("bad", ["", "x" * 256, "has space", "tab\there", "naïve", "new\nline"])
def test_empty_too_long_or_non_printable_keys_are_invalid(bad: str) -> None:
    with pytest.raises(KeyProblem) as caught:
        check_key(bad)
    assert caught.value.code == "idempotency_key_invalid"


@pytest.mark.parametrize("good", ["a", "x" * 255, "order-42/retry:1", "~!@#$%^&*()"])
def test_printable_ascii_keys_of_1_to_255_chars_are_accepted(good: str) -> None:
    assert check_key(good) == good


def test_keys_are_scoped_per_user() -> None:
    assert record_id("usr_a", "k") != record_id("usr_b", "k")
    assert record_id("usr_a", "k") == record_id("usr_a", "k")


def test_the_fingerprint_ignores_key_order_but_not_values() -> None:
    a = fingerprint("POST", "/v1/transfers", {"amount": 1, "currency": "USD"})
    b = fingerprint("POST", "/v1/transfers", {"currency": "USD", "amount": 1})
    c = fingerprint("POST", "/v1/transfers", {"currency": "USD", "amount": 2})
    assert a == b
    assert a != c
    assert a != fingerprint("POST", "/v1/wallets/w/top-ups", {"amount": 1, "currency": "USD"})
