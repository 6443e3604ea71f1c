"""Users of the public API and their roles; a user never carries its password hash."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"


@dataclass(frozen=True)
class User:
    id: str
    email: str
    name: str
    role: Role
    created_at: datetime
    default_wallet_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def email_key(email: str) -> str:
    """The form under which emails are unique: `Alice@Example.com` and `alice@example.com` collide."""
    return email.strip().casefold()


@dataclass(frozen=True)
class Credentials:
    """A user with the hash its password is checked against (never answered)."""

    user: User
    password_hash: str
