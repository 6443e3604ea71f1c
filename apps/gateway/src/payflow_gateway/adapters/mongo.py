"""The gateway's own collections in MongoDB: users (unique lower-cased email), API keys (digest
and display prefix only), refresh tokens and revoked token families, idempotency records.

Beanie `Document` classes declare the collections (fields, indexes); the adapters read and write
through their pymongo collections with explicit filters and convert to domain objects by hand.
Every change is one single-document write: spending or revoking a refresh token is a
compare-and-set on its `status`; revoking a family is the insert of one record keyed by the family
id, so the first revocation wins and every later one reads it back.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from beanie import Document
from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from payflow_gateway.domain.api_keys import ApiKey, ApiKeyStatus
from payflow_gateway.domain.errors import ApiKeyCollision, EmailTaken
from payflow_gateway.domain.idempotency import Claim, Claimed, InProgress, decide
from payflow_gateway.domain.sessions import FamilyRevocation, IssuedRefreshToken, RefreshStatus
from payflow_gateway.domain.users import Credentials, Role, User, email_key
from payflow_service.quotas import SLOT_FIELD, insert_within_quota, quota_slot_index

# ---------------------------------------------------------------- collections


class UserDocument(Document):
    id: str  # type: ignore[assignment]  # `usr_...`, not an ObjectId
    email: str
    email_key: str
    name: str
    role: Role = Role.USER
    password_hash: str
    created_at: datetime
    default_wallet_id: str | None = None

    class Settings:
        name = "users"
        indexes = [IndexModel([("email_key", 1)], unique=True, name="email_key_unique")]


class ApiKeyDocument(Document):
    id: str  # type: ignore[assignment]  # `key_...`
    user_id: str
    name: str
    digest: str
    display_prefix: str
    status: ApiKeyStatus = ApiKeyStatus.ACTIVE
    created_at: datetime
    quota_slot: int | None = None
    """Its place among the user's active keys (payflow_service.quotas); unset when revoked."""

    class Settings:
        name = "api_keys"
        indexes = [
            IndexModel([("digest", 1)], unique=True, name="digest_unique"),
            IndexModel([("user_id", 1)], name="by_user"),
            quota_slot_index("user_id"),
        ]


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


class IdempotencyRecordDocument(Document):
    class Settings:
        name = "idempotency_records"
        indexes = [IndexModel([("expires_at", 1)], expireAfterSeconds=0, name="expire_after_24h")]


DOCUMENTS: list[type[Document]] = [
    UserDocument,
    RefreshTokenDocument,
    RevokedFamilyDocument,
    ApiKeyDocument,
    IdempotencyRecordDocument,
]


# ---------------------------------------------------------------- adapters


def _user(document: dict[str, Any]) -> User:
    return User(
        id=document["_id"],
        email=document["email"],
        name=document["name"],
        role=Role(document["role"]),
        created_at=document["created_at"],
        default_wallet_id=document.get("default_wallet_id"),
    )


def _api_key(document: dict[str, Any]) -> ApiKey:
    return ApiKey(
        document["_id"],
        document["user_id"],
        document["name"],
        document["display_prefix"],
        document["created_at"],
    )


class MongoUserStore:
    def __init__(self) -> None:
        self._users = UserDocument.get_pymongo_collection()

    async def add(self, user: User, password_hash: str) -> None:
        try:
            await self._users.insert_one(
                {
                    "_id": user.id,
                    "email": user.email,
                    "email_key": email_key(user.email),
                    "name": user.name,
                    "role": user.role.value,
                    "password_hash": password_hash,
                    "created_at": user.created_at,
                    "default_wallet_id": user.default_wallet_id,
                }
            )
        except DuplicateKeyError as exc:
            raise EmailTaken(user.email) from exc

    async def by_id(self, user_id: str) -> User | None:
        document = await self._users.find_one({"_id": user_id})
        return _user(document) if document else None

    async def credentials_for(self, email: str) -> Credentials | None:
        document = await self._users.find_one({"email_key": email_key(email)})
        return Credentials(_user(document), document["password_hash"]) if document else None

    async def attach_default_wallet(self, user_id: str, wallet_id: str) -> bool:
        result = await self._users.update_one(
            {"_id": user_id, "default_wallet_id": None},
            {"$set": {"default_wallet_id": wallet_id}},
        )
        return result.modified_count == 1

    async def withdraw_unprovisioned(self, user_id: str) -> bool:
        result = await self._users.delete_one({"_id": user_id, "default_wallet_id": None})
        return result.deleted_count == 1

    async def promote_to_admin(self, email: str) -> bool:
        result = await self._users.update_one(
            {"email_key": email_key(email), "role": Role.USER.value},
            {"$set": {"role": Role.ADMIN.value}},
        )
        return result.modified_count == 1

    async def page(self, limit: int, after: str | None) -> list[User]:
        query = {"_id": {"$gt": after}} if after else {}
        documents = await self._users.find(query).sort("_id", 1).limit(limit).to_list()
        return [_user(document) for document in documents]


class MongoApiKeyStore:
    def __init__(self) -> None:
        self._keys = ApiKeyDocument.get_pymongo_collection()

    async def add(self, key: ApiKey, digest: str, cap: int | None = None) -> None:
        if cap is None:
            await self._insert(key, digest, None)
            return

        async def insert(slot: int) -> None:
            await self._insert(key, digest, slot)

        active = {"user_id": key.user_id, "status": ApiKeyStatus.ACTIVE.value}
        await insert_within_quota(self._keys, active, cap, insert)

    async def _insert(self, key: ApiKey, digest: str, slot: int | None) -> None:
        try:
            await self._keys.insert_one(
                {
                    "_id": key.id,
                    "user_id": key.user_id,
                    "name": key.name,
                    "digest": digest,
                    "display_prefix": key.display_prefix,
                    "status": ApiKeyStatus.ACTIVE.value,
                    "created_at": key.created_at,
                    SLOT_FIELD: slot,
                }
            )
        except DuplicateKeyError as exc:
            taken = await self._keys.find_one(
                {"$or": [{"_id": key.id}, {"digest": digest}]}, {"_id": 1}
            )
            if taken is None:
                raise  # the quota's index: insert_within_quota looks for another slot
            raise ApiKeyCollision(key.id) from exc

    async def owner_of(self, digest: str) -> str | None:
        document = await self._keys.find_one(
            {"digest": digest, "status": ApiKeyStatus.ACTIVE.value}, {"user_id": 1}
        )
        return str(document["user_id"]) if document else None

    async def page_for(self, user_id: str, limit: int, after: str | None) -> list[ApiKey]:
        query: dict[str, object] = {"user_id": user_id, "status": ApiKeyStatus.ACTIVE.value}
        if after:
            query["_id"] = {"$gt": after}
        documents = await self._keys.find(query).sort("_id", 1).limit(limit).to_list()
        return [_api_key(document) for document in documents]

    async def revoke(self, user_id: str, key_id: str) -> bool:
        result = await self._keys.update_one(
            {"_id": key_id, "user_id": user_id, "status": ApiKeyStatus.ACTIVE.value},
            # A revoked key gives its quota slot back.
            {"$set": {"status": ApiKeyStatus.REVOKED.value}, "$unset": {SLOT_FIELD: ""}},
        )
        return result.modified_count == 1


class MongoRefreshTokenStore:
    def __init__(self) -> None:
        self._tokens = RefreshTokenDocument.get_pymongo_collection()
        self._families = RevokedFamilyDocument.get_pymongo_collection()

    async def record(self, token: IssuedRefreshToken) -> None:
        await self._tokens.insert_one(
            {
                "_id": token.token_id,
                "family_id": token.family_id,
                "user_id": token.user_id,
                "status": RefreshStatus.ACTIVE.value,
                "issued_at": token.issued_at,
                "expires_at": token.expires_at,
            }
        )

    async def _swap_status(self, token_id: str, to: RefreshStatus) -> bool:
        result = await self._tokens.update_one(
            {"_id": token_id, "status": RefreshStatus.ACTIVE.value}, {"$set": {"status": to.value}}
        )
        return result.modified_count == 1

    async def spend(self, token_id: str) -> bool:
        return await self._swap_status(token_id, RefreshStatus.SPENT)

    async def revoke(self, token_id: str) -> bool:
        return await self._swap_status(token_id, RefreshStatus.REVOKED)

    async def status(self, token_id: str) -> RefreshStatus | None:
        document = await self._tokens.find_one({"_id": token_id}, {"status": 1})
        return RefreshStatus(document["status"]) if document else None

    async def revoke_family(
        self, family_id: str, reason: FamilyRevocation, now: datetime, keep_until: datetime
    ) -> FamilyRevocation:
        try:
            await self._families.insert_one(
                {
                    "_id": family_id,
                    "reason": reason.value,
                    "revoked_at": now,
                    "keep_until": keep_until,
                }
            )
            return reason
        except DuplicateKeyError:
            held = await self.family_revocation(family_id)
            # Only a TTL removal between the insert and the read leaves nothing: the family's
            # tokens have all expired then, so the caller's reason is as good as any.
            return held or reason

    async def family_revocation(self, family_id: str) -> FamilyRevocation | None:
        document = await self._families.find_one({"_id": family_id}, {"reason": 1})
        return FamilyRevocation(document["reason"]) if document else None


class MongoIdempotencyStore:
    def __init__(self, collection: Any) -> None:
        self._collection = collection

    async def claim(
        self, record_id: str, fingerprint: str, now: datetime, lock_for: timedelta, ttl: timedelta
    ) -> Claim:
        token = secrets.token_hex(8)
        fresh = {
            "_id": record_id,
            "fingerprint": fingerprint,
            "state": "in_progress",
            "token": token,
            "locked_until": now + lock_for,
            "created_at": now,
            "expires_at": now + ttl,
        }
        for _ in range(10):
            try:
                await self._collection.insert_one(dict(fresh))
                return Claimed(token)
            except DuplicateKeyError:
                pass
            existing = await self._collection.find_one({"_id": record_id})
            if existing is None:
                continue  # expired and removed meanwhile: try the insert again
            if existing["expires_at"] <= now:
                replaced = await self._collection.replace_one(
                    {"_id": record_id, "expires_at": existing["expires_at"]}, fresh
                )
                if replaced.modified_count == 1:
                    return Claimed(token)
                continue
            decided = decide(existing, fingerprint, now)
            if decided is not None:
                return decided
            # The first request's lock lapsed (its process died): take over, once.
            taken = await self._collection.update_one(
                {
                    "_id": record_id,
                    "state": "in_progress",
                    "locked_until": existing["locked_until"],
                },
                {"$set": {"locked_until": now + lock_for, "token": token}},
            )
            if taken.modified_count == 1:
                return Claimed(token)
        return InProgress()

    async def complete(self, record_id: str, token: str, status: int, body: Any) -> None:
        await self._collection.update_one(
            {"_id": record_id, "state": "in_progress", "token": token},
            {"$set": {"state": "completed", "status": status, "body": body}},
        )

    async def release(self, record_id: str, token: str) -> None:
        await self._collection.delete_one(
            {"_id": record_id, "state": "in_progress", "token": token}
        )
