"""Wiring of authentication: stores, hasher, token codec, the bootstrap admin."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from payflow_gateway.auth.accounts import Accounts
from payflow_gateway.auth.api import admin_users_router, api_keys_router, auth_router
from payflow_gateway.auth.api_key_store import ApiKeyDocument, MongoApiKeyStore
from payflow_gateway.auth.api_keys import ApiKeys
from payflow_gateway.auth.bearer import BearerAuthenticator
from payflow_gateway.auth.components import COMPONENT_KEY, AuthComponents
from payflow_gateway.auth.passwords import PasswordHasher
from payflow_gateway.auth.refresh_tokens import (
    MongoRefreshTokenStore,
    RefreshTokenDocument,
    RevokedFamilyDocument,
)
from payflow_gateway.auth.remembered_users import RememberedUserStore
from payflow_gateway.auth.sessions import Sessions
from payflow_gateway.auth.tokens import TokenCodec
from payflow_gateway.auth.users import MongoUserStore, UserDocument
from payflow_gateway.modules import GatewayModule
from payflow_gateway.settings import GatewaySettings
from payflow_gateway.wallets.components import COMPONENT_KEY as WALLETS
from payflow_gateway.wallets.components import WalletComponents
from payflow_service import ServiceRuntime


@contextlib.asynccontextmanager
async def compose_auth(runtime: ServiceRuntime) -> AsyncIterator[None]:
    settings = runtime.settings
    assert isinstance(settings, GatewaySettings)
    wallets: WalletComponents = runtime.components[WALLETS]
    users = RememberedUserStore(
        MongoUserStore(),
        runtime.redis,
        settings.streams.key("user-generation"),
        max_age_s=settings.remembered_max_age_s,
    )
    api_key_store = MongoApiKeyStore()
    hasher = await PasswordHasher.create(settings.bcrypt_rounds)
    codec = TokenCodec(
        settings.signing_keys(), settings.jwt_key_id, settings.jwt_issuer, settings.jwt_audience
    )
    accounts = Accounts(users, hasher, wallets.directory, settings.default_currency)
    runtime.components[COMPONENT_KEY] = AuthComponents(
        users=users,
        accounts=accounts,
        sessions=Sessions(
            users,
            MongoRefreshTokenStore(),
            hasher,
            codec,
            access_ttl=timedelta(seconds=settings.jwt_access_ttl_seconds),
            refresh_ttl=timedelta(seconds=settings.jwt_refresh_ttl_seconds),
        ),
        bearer=BearerAuthenticator(users, api_key_store, codec, live=settings.is_production),
        api_keys=ApiKeys(api_key_store, live=settings.is_production),
    )
    if settings.bootstrap_admin_email and settings.bootstrap_admin_password:
        await accounts.ensure_admin(
            settings.bootstrap_admin_email, settings.bootstrap_admin_password.get_secret_value()
        )
    yield


def auth_module() -> GatewayModule:
    return GatewayModule(
        routers=[auth_router, api_keys_router, admin_users_router],
        documents=[UserDocument, RefreshTokenDocument, RevokedFamilyDocument, ApiKeyDocument],
        compose=compose_auth,
    )
