"""Who a bearer credential is: a JWT access token or an API key, each resolved to a live user."""

from __future__ import annotations

from payflow_gateway.auth.tokens import TokenCodec
from payflow_gateway.domain.api_keys import digest_of, is_accepted_here, looks_like_api_key
from payflow_gateway.domain.errors import InvalidToken, TokenRejected
from payflow_gateway.domain.tokens import TokenType
from payflow_gateway.domain.users import User
from payflow_gateway.ports import ApiKeyStore, UserStore


class BearerAuthenticator:
    def __init__(
        self, users: UserStore, api_keys: ApiKeyStore, codec: TokenCodec, live: bool
    ) -> None:
        self._users = users
        self._api_keys = api_keys
        self._codec = codec
        self._live = live

    async def authenticate(self, credential: str) -> User:
        if looks_like_api_key(credential):
            user_id = await self._api_key_owner(credential)
        else:
            try:
                user_id = self._codec.decode(credential, TokenType.ACCESS).subject
            except TokenRejected as rejected:
                raise InvalidToken(rejected.reason) from None
        # The user is read on every request, so that a removed user or a role change takes
        # effect at once rather than when the access token expires.
        user = await self._users.by_id(user_id)
        if user is None:
            raise InvalidToken("unknown_user")
        return user

    async def _api_key_owner(self, secret: str) -> str:
        if not is_accepted_here(secret, self._live):
            raise InvalidToken("wrong_environment_api_key")
        owner = await self._api_keys.owner_of(digest_of(secret))
        if owner is None:
            raise InvalidToken("unknown_api_key")
        return owner
