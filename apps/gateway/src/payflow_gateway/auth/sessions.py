"""Sessions: log in, rotate refresh tokens (single use, families revoked on reuse), log out."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from payflow_contracts import new_id
from payflow_gateway.auth.passwords import PasswordHasher
from payflow_gateway.auth.tokens import TokenCodec
from payflow_gateway.domain.errors import (
    InvalidCredentials,
    InvalidToken,
    TokenRejected,
    TokenReused,
)
from payflow_gateway.domain.sessions import (
    FamilyRevocation,
    IssuedRefreshToken,
    RefreshVerdict,
    judge_refresh,
)
from payflow_gateway.domain.tokens import TokenType, access_claims, refresh_claims
from payflow_gateway.ports import RefreshTokenStore, UserStore

logger = logging.getLogger(__name__)

# A family's revocation outlives its newest token; the margin covers a rotation that raced it.
REVOCATION_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    """Seconds the access token lives."""


class Sessions:
    def __init__(
        self,
        users: UserStore,
        refresh_tokens: RefreshTokenStore,
        hasher: PasswordHasher,
        codec: TokenCodec,
        access_ttl: timedelta,
        refresh_ttl: timedelta,
    ) -> None:
        self._users = users
        self._refresh_tokens = refresh_tokens
        self._hasher = hasher
        self._codec = codec
        self._access_ttl = access_ttl
        self._refresh_ttl = refresh_ttl

    async def log_in(self, email: str, password: str) -> TokenPair:
        credentials = await self._users.credentials_for(email)
        matches = await self._hasher.verify(
            password, credentials.password_hash if credentials else None
        )
        if credentials is None or not matches:
            raise InvalidCredentials()
        logger.info("user logged in", extra={"user_id": credentials.user.id})
        return await self._issue_pair(credentials.user.id, family_id=None)

    async def rotate(self, refresh_token: str) -> TokenPair:
        try:
            claims = self._codec.decode(refresh_token, TokenType.REFRESH)
        except TokenRejected as rejected:
            raise InvalidToken(rejected.reason) from None
        assert claims.family_id is not None  # read_claims guarantees it for refresh tokens
        family = await self._refresh_tokens.family_revocation(claims.family_id)
        spent_now, status_after = False, None
        if family is None:
            spent_now = await self._refresh_tokens.spend(claims.token_id)
            if not spent_now:
                status_after = await self._refresh_tokens.status(claims.token_id)
        verdict = judge_refresh(spent_now, status_after, family)
        if verdict is RefreshVerdict.REUSED:
            if family is None:
                now = datetime.now(UTC)
                await self._refresh_tokens.revoke_family(
                    claims.family_id,
                    FamilyRevocation.REUSE,
                    now,
                    now + self._refresh_ttl + REVOCATION_MARGIN,
                )
            raise TokenReused()
        if verdict is RefreshVerdict.INVALID:
            raise InvalidToken("refresh_token_invalid")
        if await self._users.by_id(claims.subject) is None:
            raise InvalidToken("unknown_user")
        pair = await self._issue_pair(claims.subject, family_id=claims.family_id)
        # A reuse detected while we rotated revoked the family: the new pair is dead already.
        if await self._refresh_tokens.family_revocation(claims.family_id) is not None:
            raise TokenReused()
        return pair

    async def log_out(self, refresh_token: str) -> None:
        """Ends the session the token belongs to; a token that is not valid ends nothing."""
        try:
            claims = self._codec.decode(refresh_token, TokenType.REFRESH)
        except TokenRejected:
            return
        assert claims.family_id is not None
        now = datetime.now(UTC)
        await self._refresh_tokens.revoke(claims.token_id)
        await self._refresh_tokens.revoke_family(
            claims.family_id,
            FamilyRevocation.LOGOUT,
            now,
            now + self._refresh_ttl + REVOCATION_MARGIN,
        )
        logger.info("user logged out", extra={"user_id": claims.subject})

    async def _issue_pair(self, user_id: str, family_id: str | None) -> TokenPair:
        now = datetime.now(UTC)
        refresh_id = new_id("rt")
        family = family_id or refresh_id  # a login starts a family named after its first token
        refresh = refresh_claims(user_id, refresh_id, family, now, self._refresh_ttl)
        await self._refresh_tokens.record(
            IssuedRefreshToken(refresh_id, family, user_id, now, refresh.expires_at)
        )
        access = access_claims(user_id, uuid.uuid4().hex, now, self._access_ttl)
        return TokenPair(
            access_token=self._codec.encode(access),
            refresh_token=self._codec.encode(refresh),
            expires_in=int(self._access_ttl.total_seconds()),
        )
