"""Refresh tokens by `jti`, and revoked token families: a protocol, MongoDB adapter, in-memory twin.

Every change is one single-document write: spending or revoking a token is a compare-and-set on
its `status`; revoking a family is the insert of one record keyed by the family id, so the first
revocation wins and every later one reads it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from beanie import Document
from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from payflow_gateway.domain.sessions import FamilyRevocation, RefreshStatus


@dataclass(frozen=True)
class IssuedRefreshToken:
    token_id: str
    family_id: str
    user_id: str
    issued_at: datetime
    expires_at: datetime


class RefreshTokenStore(Protocol):
    async def record(self, token: IssuedRefreshToken) -> None: ...
    async def spend(self, token_id: str) -> bool:
        """`active` -> `spent`; True for exactly one caller, however many race."""

    async def revoke(self, token_id: str) -> bool:
        """`active` -> `revoked` (logout)."""

    async def status(self, token_id: str) -> RefreshStatus | None: ...
    async def revoke_family(
        self, family_id: str, reason: FamilyRevocation, now: datetime, keep_until: datetime
    ) -> FamilyRevocation:
        """Revokes the family unless already revoked; answers the revocation that holds."""

    async def family_revocation(self, family_id: str) -> FamilyRevocation | None: ...


class RefreshTokenDocument(Document):
    id: str  # type: ignore[assignment]  # the token's `jti`
    family_id: str
    user_id: str
    status: RefreshStatus = RefreshStatus.ACTIVE
    issued_at: datetime
    expires_at: datetime

    class Settings:
        name = "refresh_tokens"
        indexes = [
            IndexModel([("family_id", 1)], name="by_family"),
            IndexModel([("expires_at", 1)], expireAfterSeconds=0, name="expire_when_token_does"),
        ]


class RevokedFamilyDocument(Document):
    id: str  # type: ignore[assignment]  # the family id
    reason: FamilyRevocation
    revoked_at: datetime
    keep_until: datetime
    """Past this, every token of the family has expired anyway and the record can go."""

    class Settings:
        name = "revoked_refresh_families"
        indexes = [
            IndexModel([("keep_until", 1)], expireAfterSeconds=0, name="expire_with_the_family")
        ]


class MongoRefreshTokenStore:
    async def record(self, token: IssuedRefreshToken) -> None:
        await RefreshTokenDocument(
            id=token.token_id,
            family_id=token.family_id,
            user_id=token.user_id,
            issued_at=token.issued_at,
            expires_at=token.expires_at,
        ).insert()

    async def _swap_status(self, token_id: str, to: RefreshStatus) -> bool:
        result = await RefreshTokenDocument.get_pymongo_collection().update_one(
            {"_id": token_id, "status": RefreshStatus.ACTIVE.value}, {"$set": {"status": to.value}}
        )
        return result.modified_count == 1

    async def spend(self, token_id: str) -> bool:
        return await self._swap_status(token_id, RefreshStatus.SPENT)

    async def revoke(self, token_id: str) -> bool:
        return await self._swap_status(token_id, RefreshStatus.REVOKED)

    async def status(self, token_id: str) -> RefreshStatus | None:
        document = await RefreshTokenDocument.get(token_id)
        return RefreshStatus(document.status) if document else None

    async def revoke_family(
        self, family_id: str, reason: FamilyRevocation, now: datetime, keep_until: datetime
    ) -> FamilyRevocation:
        try:
            await RevokedFamilyDocument(
                id=family_id, reason=reason, revoked_at=now, keep_until=keep_until
            ).insert()
            return reason
        except DuplicateKeyError:
            held = await self.family_revocation(family_id)
            # Only a TTL removal between the insert and the read leaves nothing: the family's
            # tokens have all expired then, so the caller's reason is as good as any.
            return held or reason

    async def family_revocation(self, family_id: str) -> FamilyRevocation | None:
        document = await RevokedFamilyDocument.get(family_id)
        return FamilyRevocation(document.reason) if document else None


class InMemoryRefreshTokenStore:
    def __init__(self) -> None:
        self._tokens: dict[str, RefreshStatus] = {}
        self._families: dict[str, FamilyRevocation] = {}

    async def record(self, token: IssuedRefreshToken) -> None:
        if token.token_id in self._tokens:
            raise ValueError(f"refresh token {token.token_id} already recorded")
        self._tokens[token.token_id] = RefreshStatus.ACTIVE

    async def _swap_status(self, token_id: str, to: RefreshStatus) -> bool:
        if self._tokens.get(token_id) is not RefreshStatus.ACTIVE:
            return False
        self._tokens[token_id] = to
        return True

    async def spend(self, token_id: str) -> bool:
        return await self._swap_status(token_id, RefreshStatus.SPENT)

    async def revoke(self, token_id: str) -> bool:
        return await self._swap_status(token_id, RefreshStatus.REVOKED)

    async def status(self, token_id: str) -> RefreshStatus | None:
        return self._tokens.get(token_id)

    async def revoke_family(
        self, family_id: str, reason: FamilyRevocation, now: datetime, keep_until: datetime
    ) -> FamilyRevocation:
        return self._families.setdefault(family_id, reason)

    async def family_revocation(self, family_id: str) -> FamilyRevocation | None:
        return self._families.get(family_id)
