"""Users as the bearer check reads them on every request, remembered between their changes.

Reading the user on every request keeps a removal or a role change effective at once; this
adapter keeps that promise with one Redis command per request instead of a store query: every
change of a user bumps that user's counter (see `payflow_service.generations`), on whichever
gateway replica makes it, and every replica reloads the user on its next request.
"""

from __future__ import annotations

from typing import Any

from payflow_gateway.auth.users import Credentials, UserStore
from payflow_gateway.domain.users import User
from payflow_service.generations import KeyedGenerationMemo


class RememberedUserStore:
    def __init__(
        self, inner: UserStore, redis: Any, key_prefix: str, max_age_s: float = 30.0
    ) -> None:
        self._inner = inner
        self._memo: KeyedGenerationMemo[User | None] = KeyedGenerationMemo(
            redis, key_prefix, max_age_s=max_age_s
        )

    async def add(self, user: User, password_hash: str) -> None:
        await self._inner.add(user, password_hash)
        await self._memo.bump(user.id)  # a lookup may have remembered "no such user"

    async def by_id(self, user_id: str) -> User | None:
        return await self._memo.get(user_id, lambda: self._inner.by_id(user_id))

    async def credentials_for(self, email: str) -> Credentials | None:
        return await self._inner.credentials_for(email)

    async def attach_default_wallet(self, user_id: str, wallet_id: str) -> bool:
        attached = await self._inner.attach_default_wallet(user_id, wallet_id)
        await self._memo.bump(user_id)
        return attached

    async def withdraw_unprovisioned(self, user_id: str) -> bool:
        withdrawn = await self._inner.withdraw_unprovisioned(user_id)
        await self._memo.bump(user_id)
        return withdrawn

    async def promote_to_admin(self, email: str) -> bool:
        promoted = await self._inner.promote_to_admin(email)
        found = await self._inner.credentials_for(email)
        if found is not None:
            await self._memo.bump(found.user.id)
        return promoted

    async def page(self, limit: int, after: str | None) -> list[User]:
        return await self._inner.page(limit, after)
