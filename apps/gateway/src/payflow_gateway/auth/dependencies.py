"""Typed dependencies for routes that need a caller: `CurrentUser` (any authenticated user, by
JWT access token or API key) and `AdminUser` (role `admin`, else 403 `forbidden`).

    @router.get("/things")
    async def things(user: CurrentUser) -> ...: user.id, user.email, user.role
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from payflow_gateway.auth import errors
from payflow_gateway.auth.components import AuthComponents, auth_components
from payflow_gateway.domain.users import User

# auto_error=False: a missing or non-Bearer header must become our 401 problem, not FastAPI's 403.
bearer_scheme = HTTPBearer(
    scheme_name="bearer",
    bearerFormat="JWT access token or API key (pf_test_... / pf_live_...)",
    description="`Authorization: Bearer <access token or API key>`",
    auto_error=False,
)

Auth = Annotated[AuthComponents, Depends(auth_components)]


async def current_user(
    auth: Auth,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> User:
    if credentials is None or not credentials.credentials:
        raise errors.not_authenticated()
    return await auth.bearer.authenticate(credentials.credentials)


CurrentUser = Annotated[User, Depends(current_user)]


async def admin_user(user: CurrentUser) -> User:
    if not user.is_admin:
        raise errors.forbidden()
    return user


AdminUser = Annotated[User, Depends(admin_user)]

__all__ = ["AdminUser", "Auth", "CurrentUser", "bearer_scheme", "current_user"]
