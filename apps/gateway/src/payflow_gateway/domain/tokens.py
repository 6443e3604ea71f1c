"""Claims of the gateway's JWTs: what each kind carries and how a presented one is judged.

Access and refresh tokens differ in their `typ` claim, so that one kind can never stand in for
the other; refresh tokens also name their family (`fam`), the chain of rotations since a login.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from payflow_gateway.domain.errors import ClaimsRejected


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    token_type: TokenType
    token_id: str
    issued_at: datetime
    expires_at: datetime
    family_id: str | None = None

    def as_jwt_claims(self, issuer: str, audience: str) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": audience,
            "sub": self.subject,
            "typ": self.token_type.value,
            "jti": self.token_id,
            "iat": int(self.issued_at.timestamp()),
            # Rounded up: a token never lives less than its lifetime, even a lifetime of 1 s.
            "exp": math.ceil(self.expires_at.timestamp()),
        }
        if self.family_id is not None:
            claims["fam"] = self.family_id
        return claims


def access_claims(user_id: str, token_id: str, now: datetime, ttl: timedelta) -> TokenClaims:
    return TokenClaims(user_id, TokenType.ACCESS, token_id, now, now + ttl)


def refresh_claims(
    user_id: str, token_id: str, family_id: str, now: datetime, ttl: timedelta
) -> TokenClaims:
    return TokenClaims(user_id, TokenType.REFRESH, token_id, now, now + ttl, family_id)


def read_claims(raw: Mapping[str, Any], expected: TokenType) -> TokenClaims:
    """Typed claims of a token whose signature and lifetime were already verified."""
    if raw.get("typ") != expected.value:
        raise ClaimsRejected("wrong_token_type")
    subject, token_id = raw.get("sub"), raw.get("jti")
    if not isinstance(subject, str) or not subject or not isinstance(token_id, str) or not token_id:
        raise ClaimsRejected("malformed_token")
    family_id = raw.get("fam")
    if expected is TokenType.REFRESH and (not isinstance(family_id, str) or not family_id):
        raise ClaimsRejected("malformed_token")
    issued_at, expires_at = raw.get("iat"), raw.get("exp")
    if type(issued_at) is not int or type(expires_at) is not int:
        raise ClaimsRejected("malformed_token")
    return TokenClaims(
        subject=subject,
        token_type=expected,
        token_id=token_id,
        issued_at=datetime.fromtimestamp(issued_at, UTC),
        expires_at=datetime.fromtimestamp(expires_at, UTC),
        family_id=family_id if expected is TokenType.REFRESH else None,
    )
