"""Request and response bodies of the authentication routes; no response ever holds a hash."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, field_validator

from payflow_gateway.auth.passwords import MAX_PASSWORD_BYTES
from payflow_gateway.domain.users import Role
from payflow_gateway.wallets.schemas import WalletPublic

MIN_PASSWORD_LENGTH = 10

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_BYTES)
    name: Name

    @field_validator("password")
    @classmethod
    def _fits_bcrypt(cls, value: str) -> str:
        if len(value.encode()) > MAX_PASSWORD_BYTES:
            raise ValueError(f"password must be at most {MAX_PASSWORD_BYTES} bytes in UTF-8")
        return value


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    name: str
    role: Role
    created_at: datetime


class Registered(BaseModel):
    user: UserPublic
    wallet: WalletPublic


class LoginRequest(BaseModel):
    # Not EmailStr: a malformed email is simply one that has no account.
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=4096)


class TokenPairPublic(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, no secret
    expires_in: int = Field(description="Seconds until the access token expires")


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name


class ApiKeyPublic(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it")
    created_at: datetime


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="The secret key; shown only in this answer")


class ApiKeyList(BaseModel):
    data: list[ApiKeyPublic]
    next_cursor: str | None


class UserList(BaseModel):
    data: list[UserPublic]
    next_cursor: str | None
