"""Where users live: a protocol, its MongoDB adapter (unique lower-cased email) and an in-memory twin."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from beanie import Document
from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from payflow_gateway.domain.users import Role, User, email_key


class EmailTaken(Exception):
    """Another user already registered this email, in any letter case."""


@dataclass(frozen=True)
class Credentials:
    user: User
    password_hash: str


class UserStore(Protocol):
    async def add(self, user: User, password_hash: str) -> None:
        """Raises `EmailTaken` when the lower-cased email is already registered."""

    async def by_id(self, user_id: str) -> User | None: ...
    async def credentials_for(self, email: str) -> Credentials | None: ...
    async def attach_default_wallet(self, user_id: str, wallet_id: str) -> bool:
        """Records the default wallet once; False if the user is gone or already has one."""

    async def withdraw_unprovisioned(self, user_id: str) -> bool:
        """Removes a user whose default wallet was never attached (a registration that failed)."""

    async def promote_to_admin(self, email: str) -> bool: ...
    async def page(self, limit: int, after: str | None) -> list[User]:
        """Users in id order, those after the id `after`."""


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

    def to_user(self) -> User:
        return User(
            id=self.id,
            email=self.email,
            name=self.name,
            role=Role(self.role),
            created_at=self.created_at,
            default_wallet_id=self.default_wallet_id,
        )


class MongoUserStore:
    async def add(self, user: User, password_hash: str) -> None:
        document = UserDocument(
            id=user.id,
            email=user.email,
            email_key=email_key(user.email),
            name=user.name,
            role=user.role,
            password_hash=password_hash,
            created_at=user.created_at,
            default_wallet_id=user.default_wallet_id,
        )
        try:
            await document.insert()
        except DuplicateKeyError as exc:
            raise EmailTaken(user.email) from exc

    async def by_id(self, user_id: str) -> User | None:
        document = await UserDocument.get(user_id)
        return document.to_user() if document else None

    async def credentials_for(self, email: str) -> Credentials | None:
        document = await UserDocument.find_one({"email_key": email_key(email)})
        return Credentials(document.to_user(), document.password_hash) if document else None

    async def attach_default_wallet(self, user_id: str, wallet_id: str) -> bool:
        result = await UserDocument.get_pymongo_collection().update_one(
            {"_id": user_id, "default_wallet_id": None},
            {"$set": {"default_wallet_id": wallet_id}},
        )
        return result.modified_count == 1

    async def withdraw_unprovisioned(self, user_id: str) -> bool:
        result = await UserDocument.get_pymongo_collection().delete_one(
            {"_id": user_id, "default_wallet_id": None}
        )
        return result.deleted_count == 1

    async def promote_to_admin(self, email: str) -> bool:
        result = await UserDocument.get_pymongo_collection().update_one(
            {"email_key": email_key(email), "role": Role.USER.value},
            {"$set": {"role": Role.ADMIN.value}},
        )
        return result.modified_count == 1

    async def page(self, limit: int, after: str | None) -> list[User]:
        query = {"_id": {"$gt": after}} if after else {}
        documents = await UserDocument.find(query).sort("_id").limit(limit).to_list()
        return [document.to_user() for document in documents]


class InMemoryUserStore:
    def __init__(self) -> None:
        self._users: dict[str, Credentials] = {}

    def _by_email(self, email: str) -> Credentials | None:
        key = email_key(email)
        return next((c for c in self._users.values() if email_key(c.user.email) == key), None)

    async def add(self, user: User, password_hash: str) -> None:
        if self._by_email(user.email) is not None or user.id in self._users:
            raise EmailTaken(user.email)
        self._users[user.id] = Credentials(user, password_hash)

    async def by_id(self, user_id: str) -> User | None:
        found = self._users.get(user_id)
        return found.user if found else None

    async def credentials_for(self, email: str) -> Credentials | None:
        return self._by_email(email)

    async def attach_default_wallet(self, user_id: str, wallet_id: str) -> bool:
        found = self._users.get(user_id)
        if found is None or found.user.default_wallet_id is not None:
            return False
        user = replace(found.user, default_wallet_id=wallet_id)
        self._users[user_id] = Credentials(user, found.password_hash)
        return True

    async def withdraw_unprovisioned(self, user_id: str) -> bool:
        found = self._users.get(user_id)
        if found is None or found.user.default_wallet_id is not None:
            return False
        del self._users[user_id]
        return True

    async def promote_to_admin(self, email: str) -> bool:
        found = self._by_email(email)
        if found is None or found.user.role is Role.ADMIN:
            return False
        self._users[found.user.id] = Credentials(
            replace(found.user, role=Role.ADMIN), found.password_hash
        )
        return True

    async def page(self, limit: int, after: str | None) -> list[User]:
        ids = sorted(i for i in self._users if after is None or i > after)
        return [self._users[i].user for i in ids[:limit]]
