"""Token claims and the JWT codec: each kind of token only works as itself, and keys rotate."""

from __future__ import annotations

from datetime import datetime, timedelta

import jwt
import pytest

from payflow_gateway.auth.tokens import TokenCodec
from payflow_gateway.domain.errors import TokenRejected
from payflow_gateway.domain.tokens import (
    ClaimsRejected,
    TokenType,
    access_claims,
    read_claims,
    refresh_claims,
)

KEY_A = "a" * 40
KEY_B = "b" * 40


@pytest.fixture
def now(now: datetime) -> datetime:
    """The suite's real clock, to the whole second a JWT keeps. The codec checks expiry against the
    wall clock, so the time is read per test, not once at import: the whole suite may take longer
    than a token lives."""
    return now.replace(microsecond=0)


def codec(keys: dict[str, str] | None = None, current: str = "k2") -> TokenCodec:
    return TokenCodec(keys or {"k2": KEY_B, "k1": KEY_A}, current, "payflow-gateway", "payflow")


def test_an_access_token_carries_subject_expiry_issue_time_id_and_type(now: datetime) -> None:
    token = codec().encode(access_claims("usr_1", "jti-1", now, timedelta(minutes=15)))
    raw = jwt.decode(token, KEY_B, algorithms=["HS256"], audience="payflow")
    assert raw["sub"] == "usr_1"
    assert raw["typ"] == "access"
    assert raw["jti"] == "jti-1"
    assert raw["iat"] == int(now.timestamp())
    assert raw["exp"] == int((now + timedelta(minutes=15)).timestamp())
    assert "fam" not in raw
    assert jwt.get_unverified_header(token)["kid"] == "k2"


def test_a_refresh_token_names_its_family(now: datetime) -> None:
    claims = refresh_claims("usr_1", "rt_2", "rt_1", now, timedelta(days=7))
    decoded = codec().decode(codec().encode(claims), TokenType.REFRESH)
    assert decoded == claims


def test_a_refresh_token_is_refused_where_an_access_token_is_expected(now: datetime) -> None:
    token = codec().encode(refresh_claims("usr_1", "rt_1", "rt_1", now, timedelta(days=7)))
    with pytest.raises(TokenRejected) as caught:
        codec().decode(token, TokenType.ACCESS)
    assert caught.value.reason == "wrong_token_type"


def test_an_access_token_is_refused_where_a_refresh_token_is_expected(now: datetime) -> None:
    token = codec().encode(access_claims("usr_1", "jti", now, timedelta(minutes=5)))
    with pytest.raises(TokenRejected) as caught:
        codec().decode(token, TokenType.REFRESH)
    assert caught.value.reason == "wrong_token_type"


def test_a_token_signed_with_a_previous_key_still_verifies_after_rotation(now: datetime) -> None:
    before_rotation = codec({"k1": KEY_A}, current="k1")
    token = before_rotation.encode(access_claims("usr_1", "jti", now, timedelta(minutes=5)))
    assert codec().decode(token, TokenType.ACCESS).subject == "usr_1"


def test_a_token_of_a_retired_key_is_refused(now: datetime) -> None:
    retired = codec({"k0": "z" * 40}, current="k0")
    token = retired.encode(access_claims("usr_1", "jti", now, timedelta(minutes=5)))
    with pytest.raises(TokenRejected) as caught:
        codec().decode(token, TokenType.ACCESS)
    assert caught.value.reason == "unknown_key_id"


def test_a_token_whose_kid_names_a_known_key_but_was_signed_with_another_is_refused(
    now: datetime,
) -> None:
    forged = jwt.encode(
        access_claims("usr_1", "jti", now, timedelta(minutes=5)).as_jwt_claims(
            "payflow-gateway", "payflow"
        ),
        "f" * 40,
        algorithm="HS256",
        headers={"kid": "k2"},
    )
    with pytest.raises(TokenRejected) as caught:
        codec().decode(forged, TokenType.ACCESS)
    assert caught.value.reason == "bad_signature"


def test_an_expired_token_is_refused(now: datetime) -> None:
    token = codec().encode(
        access_claims("usr_1", "jti", now - timedelta(hours=1), timedelta(minutes=5))
    )
    with pytest.raises(TokenRejected) as caught:
        codec().decode(token, TokenType.ACCESS)
    assert caught.value.reason == "expired_token"


@pytest.mark.parametrize("garbage", ["", "not-a-jwt", "a.b.c", "eyJhbGciOiJub25lIn0.e30."])
def test_garbage_is_a_malformed_token(garbage: str) -> None:
    with pytest.raises(TokenRejected) as caught:
        codec().decode(garbage, TokenType.ACCESS)
    assert caught.value.reason in {"malformed_token", "unknown_key_id"}


def test_an_unsigned_token_is_never_accepted(now: datetime) -> None:
    claims = access_claims("usr_1", "jti", now, timedelta(minutes=5))
    unsigned = jwt.encode(
        claims.as_jwt_claims("payflow-gateway", "payflow"),
        None,
        algorithm="none",
        headers={"kid": "k2"},
    )
    with pytest.raises(TokenRejected):
        codec().decode(unsigned, TokenType.ACCESS)


def test_a_token_for_another_audience_is_refused(now: datetime) -> None:
    other = TokenCodec({"k2": KEY_B}, "k2", "payflow-gateway", "someone-else")
    token = other.encode(access_claims("usr_1", "jti", now, timedelta(minutes=5)))
    with pytest.raises(TokenRejected) as caught:
        codec().decode(token, TokenType.ACCESS)
    assert caught.value.reason == "malformed_token"


def test_claims_without_a_family_are_not_a_refresh_token(now: datetime) -> None:
    raw = access_claims("usr_1", "jti", now, timedelta(minutes=5)).as_jwt_claims("i", "a")
    raw["typ"] = "refresh"
    with pytest.raises(ClaimsRejected) as caught:
        read_claims(raw, TokenType.REFRESH)
    assert caught.value.reason == "malformed_token"


def test_a_boolean_is_not_a_timestamp(now: datetime) -> None:
    raw = access_claims("usr_1", "jti", now, timedelta(minutes=5)).as_jwt_claims("i", "a")
    raw["iat"] = True
    with pytest.raises(ClaimsRejected):
        read_claims(raw, TokenType.ACCESS)


def test_a_codec_needs_a_key_for_its_current_kid() -> None:
    with pytest.raises(ValueError, match="current kid"):
        TokenCodec({"k1": KEY_A}, "k9", "i", "a")


def test_a_token_lives_at_least_its_lifetime_however_late_in_the_second_it_was_issued(
    now: datetime,
) -> None:
    late_in_a_second = now.replace(microsecond=999_000)
    claims = access_claims("usr_1", "jti", late_in_a_second, timedelta(seconds=1))
    raw = claims.as_jwt_claims("i", "a")
    assert raw["iat"] == int(now.timestamp())
    assert raw["exp"] - late_in_a_second.timestamp() >= 1
