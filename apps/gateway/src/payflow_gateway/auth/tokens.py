"""Signing and verifying the gateway's JWTs (HS256) with a key ring: new tokens carry the current
key's `kid`; tokens signed with a previous key keep working until they expire."""

from __future__ import annotations

import jwt

from payflow_gateway.domain.errors import ClaimsRejected, TokenRejected
from payflow_gateway.domain.tokens import TokenClaims, TokenType, read_claims

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["iss", "aud", "sub", "typ", "jti", "iat", "exp"]


class TokenCodec:
    def __init__(self, keys: dict[str, str], current_kid: str, issuer: str, audience: str) -> None:
        if current_kid not in keys:
            raise ValueError(f"no signing key for the current kid {current_kid!r}")
        self._keys = dict(keys)
        self._current_kid = current_kid
        self._issuer = issuer
        self._audience = audience

    def encode(self, claims: TokenClaims) -> str:
        return jwt.encode(
            claims.as_jwt_claims(self._issuer, self._audience),
            self._keys[self._current_kid],
            algorithm=ALGORITHM,
            headers={"kid": self._current_kid},
        )

    def decode(self, token: str, expected: TokenType) -> TokenClaims:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.InvalidTokenError:
            raise TokenRejected("malformed_token") from None
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise TokenRejected("unknown_key_id")
        try:
            raw = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                audience=self._audience,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected("expired_token") from None
        except jwt.InvalidSignatureError:
            raise TokenRejected("bad_signature") from None
        except jwt.InvalidTokenError:
            raise TokenRejected("malformed_token") from None
        try:
            return read_claims(raw, expected)
        except ClaimsRejected as rejected:
            raise TokenRejected(rejected.reason) from None
