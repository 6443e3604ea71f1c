"""Typed dependencies of the gateway's routes, taken from the composed `Components`.

`CurrentUser` is any authenticated user (by JWT access token or API key), `AdminUser` one with
the role `admin` (else 403 `forbidden`):

    @router.get("/things")
    async def things(user: CurrentUser, wallets: Wallets) -> ...: user.id, user.role
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime

from payflow_gateway.auth.accounts import Accounts
from payflow_gateway.auth.api_keys import ApiKeys
from payflow_gateway.auth.sessions import Sessions
from payflow_gateway.bootstrap import Components
from payflow_gateway.domain.errors import Forbidden, NotAuthenticated, SandboxOnly
from payflow_gateway.domain.users import User
from payflow_gateway.handlers import LiveTransfers
from payflow_gateway.idempotency import IdempotentRequests
from payflow_gateway.ports import (
    LedgerReader,
    LoginGuard,
    PaymentLinkService,
    PaymentServices,
    StreamCap,
    UserStore,
    WalletDirectory,
    WebhooksRelay,
)
from payflow_gateway.settings import GatewaySettings
from payflow_gateway.transfers import transfer_filters
from payflow_service.components import provider

_components = provider(Components)
Comps = Annotated[Components, Depends(_components)]

# auto_error=False: a missing or non-Bearer header must become our 401 problem, not FastAPI's 403.
bearer_scheme = HTTPBearer(
    scheme_name="bearer",
    bearerFormat="JWT access token or API key (pf_test_... / pf_live_...)",
    description="`Authorization: Bearer <access token or API key>`",
    auto_error=False,
)


async def current_user(
    c: Comps,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> User:
    if credentials is None or not credentials.credentials:
        raise NotAuthenticated()
    return await c.bearer.authenticate(credentials.credentials)


CurrentUser = Annotated[User, Depends(current_user)]


async def _transfer_filters(
    user: CurrentUser,
    status: Annotated[str | None, Query(pattern="^(pending|processing|completed|failed)$")] = None,
    wallet_id: str | None = None,
    created_gte: AwareDatetime | None = None,
    created_lte: AwareDatetime | None = None,
    payment_link_id: str | None = None,
) -> dict[str, Any]:
    return transfer_filters(
        user.id,
        status=status,
        wallet_id=wallet_id,
        payment_link_id=payment_link_id,
        created_gte=created_gte,
        created_lte=created_lte,
    )


TransferFilters = Annotated[dict[str, Any], Depends(_transfer_filters)]
"""The caller's transfer list query (its filters from the query string): the list and its CSV
export take the same ones."""


async def admin_user(user: CurrentUser) -> User:
    if not user.is_admin:
        raise Forbidden()
    return user


AdminUser = Annotated[User, Depends(admin_user)]


async def sandbox_only(c: Comps) -> None:
    """A router dependency: the sandbox routes do not exist in production (404 `not_found`)."""
    if c.settings.is_production:
        raise SandboxOnly()


async def _settings(c: Comps) -> GatewaySettings:
    return c.settings


async def _users(c: Comps) -> UserStore:
    return c.users


async def _accounts(c: Comps) -> Accounts:
    return c.accounts


async def _sessions(c: Comps) -> Sessions:
    return c.sessions


async def _api_keys(c: Comps) -> ApiKeys:
    return c.api_keys


async def _wallets(c: Comps) -> WalletDirectory:
    return c.wallets


async def _ledger(c: Comps) -> LedgerReader:
    return c.ledger


async def _payments(c: Comps) -> PaymentServices:
    return c.payments


async def _links(c: Comps) -> PaymentLinkService:
    return c.links


async def _webhooks(c: Comps) -> WebhooksRelay:
    return c.webhooks


async def _idempotency(c: Comps) -> IdempotentRequests:
    return c.idempotency


async def _live(c: Comps) -> LiveTransfers:
    return c.live


async def _logins(c: Comps) -> LoginGuard:
    return c.logins


async def _streams(c: Comps) -> StreamCap:
    return c.streams


Settings = Annotated[GatewaySettings, Depends(_settings)]
Users = Annotated[UserStore, Depends(_users)]
AccountsDep = Annotated[Accounts, Depends(_accounts)]
SessionsDep = Annotated[Sessions, Depends(_sessions)]
ApiKeysDep = Annotated[ApiKeys, Depends(_api_keys)]
Wallets = Annotated[WalletDirectory, Depends(_wallets)]
Ledger = Annotated[LedgerReader, Depends(_ledger)]
Services = Annotated[PaymentServices, Depends(_payments)]
Links = Annotated[PaymentLinkService, Depends(_links)]
Webhooks = Annotated[WebhooksRelay, Depends(_webhooks)]
Idempotent = Annotated[IdempotentRequests, Depends(_idempotency)]
Live = Annotated[LiveTransfers, Depends(_live)]
Logins = Annotated[LoginGuard, Depends(_logins)]
Streams = Annotated[StreamCap, Depends(_streams)]
