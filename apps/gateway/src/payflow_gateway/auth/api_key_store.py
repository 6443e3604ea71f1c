"""Where API keys live (digest and display prefix only): a protocol, MongoDB adapter, in-memory twin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from beanie import Document
from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from payflow_service.quotas import (
    SLOT_FIELD,
    QuotaExceeded,
    insert_within_quota,
    quota_slot_index,
)


class ApiKeyStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class ApiKeyCollision(Exception):
    """A key with this id or digest is already stored (with 256 random bits: a bug, not luck)."""


@dataclass(frozen=True)
class ApiKey:
    id: str
    user_id: str
    name: str
    display_prefix: str
    created_at: datetime


class ApiKeyStore(Protocol):
    async def add(self, key: ApiKey, digest: str, cap: int | None = None) -> None:
        """Raises `ApiKeyCollision` for an id or digest already stored; with `cap`,
        `QuotaExceeded` when the user holds `cap` active keys already (exactly, however many
        are issued at once). A revoked key no longer counts."""

    async def owner_of(self, digest: str) -> str | None:
        """The user an active key acts as; None for an unknown or revoked key."""

    async def page_for(self, user_id: str, limit: int, after: str | None) -> list[ApiKey]:
        """The user's active keys in id order, those after the id `after`."""

    async def revoke(self, user_id: str, key_id: str) -> bool:
        """True when this call revoked an active key of that user."""


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

    def to_api_key(self) -> ApiKey:
        return ApiKey(self.id, self.user_id, self.name, self.display_prefix, self.created_at)


class MongoApiKeyStore:
    async def add(self, key: ApiKey, digest: str, cap: int | None = None) -> None:
        if cap is None:
            await self._insert(key, digest, None)
            return

        async def insert(slot: int) -> None:
            await self._insert(key, digest, slot)

        collection = ApiKeyDocument.get_pymongo_collection()
        active = {"user_id": key.user_id, "status": ApiKeyStatus.ACTIVE.value}
        await insert_within_quota(collection, active, cap, insert)

    async def _insert(self, key: ApiKey, digest: str, slot: int | None) -> None:
        document = ApiKeyDocument(
            id=key.id,
            user_id=key.user_id,
            name=key.name,
            digest=digest,
            display_prefix=key.display_prefix,
            created_at=key.created_at,
            quota_slot=slot,
        )
        try:
            await document.insert()
        except DuplicateKeyError as exc:
            taken = await ApiKeyDocument.get_pymongo_collection().find_one(
                {"$or": [{"_id": key.id}, {"digest": digest}]}, {"_id": 1}
            )
            if taken is None:
                raise  # the quota's index: insert_within_quota looks for another slot
            raise ApiKeyCollision(key.id) from exc

    async def owner_of(self, digest: str) -> str | None:
        document = await ApiKeyDocument.find_one(
            {"digest": digest, "status": ApiKeyStatus.ACTIVE.value}
        )
        return document.user_id if document else None

    async def page_for(self, user_id: str, limit: int, after: str | None) -> list[ApiKey]:
        query: dict[str, object] = {"user_id": user_id, "status": ApiKeyStatus.ACTIVE.value}
        if after:
            query["_id"] = {"$gt": after}
        documents = await ApiKeyDocument.find(query).sort("_id").limit(limit).to_list()
        return [document.to_api_key() for document in documents]

    async def revoke(self, user_id: str, key_id: str) -> bool:
        result = await ApiKeyDocument.get_pymongo_collection().update_one(
            {"_id": key_id, "user_id": user_id, "status": ApiKeyStatus.ACTIVE.value},
            # A revoked key gives its quota slot back.
            {"$set": {"status": ApiKeyStatus.REVOKED.value}, "$unset": {SLOT_FIELD: ""}},
        )
        return result.modified_count == 1


class InMemoryApiKeyStore:
    def __init__(self) -> None:
        self._keys: dict[str, tuple[ApiKey, str, ApiKeyStatus]] = {}

    async def add(self, key: ApiKey, digest: str, cap: int | None = None) -> None:
        if key.id in self._keys or any(d == digest for _, d, _ in self._keys.values()):
            raise ApiKeyCollision(key.id)
        active = sum(
            1
            for stored, _, status in self._keys.values()
            if stored.user_id == key.user_id and status is ApiKeyStatus.ACTIVE
        )
        if cap is not None and active >= cap:
            raise QuotaExceeded(cap)
        self._keys[key.id] = (key, digest, ApiKeyStatus.ACTIVE)

    async def owner_of(self, digest: str) -> str | None:
        for key, stored, status in self._keys.values():
            if stored == digest and status is ApiKeyStatus.ACTIVE:
                return key.user_id
        return None

    async def page_for(self, user_id: str, limit: int, after: str | None) -> list[ApiKey]:
        mine = sorted(
            (key for key, _, status in self._keys.values() if status is ApiKeyStatus.ACTIVE),
            key=lambda key: key.id,
        )
        return [k for k in mine if k.user_id == user_id and (after is None or k.id > after)][:limit]

    async def revoke(self, user_id: str, key_id: str) -> bool:
        found = self._keys.get(key_id)
        if found is None or found[0].user_id != user_id or found[2] is not ApiKeyStatus.ACTIVE:
            return False
        self._keys[key_id] = (found[0], found[1], ApiKeyStatus.REVOKED)
        return True
