"""API key format: environment prefix, 32 random bytes, digest and display prefix."""

from __future__ import annotations

import base64
import hashlib
import secrets

import pytest

from payflow_gateway.domain.api_keys import (
    digest_of,
    is_accepted_here,
    looks_like_api_key,
    mint_api_key,
)


def test_a_test_key_is_pf_test_then_the_urlsafe_random_bytes() -> None:
    random_bytes = bytes(range(32))
    minted = mint_api_key(random_bytes, live=False)
    body = minted.secret.removeprefix("pf_test_")
    assert minted.secret.startswith("pf_test_")
    assert base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)) == random_bytes
    assert set(body) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_a_live_key_starts_with_pf_live() -> None:
    assert mint_api_key(secrets.token_bytes(32), live=True).secret.startswith("pf_live_")


def test_only_the_sha256_digest_and_a_short_prefix_are_kept() -> None:
    minted = mint_api_key(secrets.token_bytes(32), live=False)
    assert minted.digest == hashlib.sha256(minted.secret.encode()).hexdigest()
    assert minted.digest == digest_of(minted.secret)
    assert minted.secret.startswith(minted.display_prefix)
    assert len(minted.display_prefix) == len("pf_test_") + 6


def test_fewer_than_32_random_bytes_are_refused() -> None:
    with pytest.raises(ValueError, match="32 random bytes"):
        mint_api_key(b"x" * 31, live=False)


def test_two_keys_never_share_a_digest() -> None:
    digests = {mint_api_key(secrets.token_bytes(32), live=False).digest for _ in range(200)}
    assert len(digests) == 200


def test_keys_work_only_in_their_environment() -> None:
    test_key = mint_api_key(secrets.token_bytes(32), live=False).secret
    live_key = mint_api_key(secrets.token_bytes(32), live=True).secret
    assert is_accepted_here(test_key, live=False)
    assert not is_accepted_here(test_key, live=True)
    assert is_accepted_here(live_key, live=True)
    assert not is_accepted_here(live_key, live=False)


def test_a_jwt_does_not_look_like_an_api_key() -> None:
    assert looks_like_api_key("pf_test_abc")
    assert looks_like_api_key("pf_live_abc")
    assert not looks_like_api_key("eyJhbGciOiJIUzI1NiJ9.e30.sig")
