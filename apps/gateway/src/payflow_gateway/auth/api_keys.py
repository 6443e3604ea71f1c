"""API keys of a user: issue (the secret is shown once), list without secrets, revoke."""

from __future__ import annotations

import logging
import secrets

from payflow_contracts import new_id
from payflow_contracts.clock import utc_now
from payflow_contracts.paging import encode_id_cursor
from payflow_gateway.domain.api_keys import RANDOM_BYTES, ApiKey, mint_api_key
from payflow_gateway.domain.errors import ApiKeyNotFound
from payflow_gateway.domain.pages import Page
from payflow_gateway.ports import ApiKeyStore

logger = logging.getLogger(__name__)


class ApiKeys:
    def __init__(self, store: ApiKeyStore, live: bool, cap: int | None = None) -> None:
        self._store = store
        self._live = live
        self._cap = cap

    async def issue(self, user_id: str, name: str) -> tuple[ApiKey, str]:
        minted = mint_api_key(secrets.token_bytes(RANDOM_BYTES), live=self._live)
        key = ApiKey(
            id=new_id("key"),
            user_id=user_id,
            name=name,
            display_prefix=minted.display_prefix,
            created_at=utc_now(),
        )
        await self._store.add(key, minted.digest, self._cap)
        logger.info("API key issued", extra={"user_id": user_id, "api_key_id": key.id})
        return key, minted.secret

    async def keys_of(self, user_id: str, limit: int, cursor: str | None) -> Page[ApiKey]:
        found = await self._store.page_for(user_id, limit + 1, cursor)
        more = len(found) > limit
        return Page(found[:limit], encode_id_cursor(found[limit - 1].id) if more else None)

    async def revoke(self, user_id: str, key_id: str) -> None:
        """Raises `ApiKeyNotFound` unless an active key of the user was revoked."""
        if not await self._store.revoke(user_id, key_id):
            raise ApiKeyNotFound(key_id)
        logger.info("API key revoked", extra={"user_id": user_id, "api_key_id": key_id})
