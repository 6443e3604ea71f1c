"""The gateway's composition root: wires its stores, the clients of the services behind it,
the budgets and the live transfer notices, and yields them as one frozen `Components`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

from limits.aio.storage import RedisStorage

from payflow_gateway.adapters.http import (
    HttpLedgerReader,
    HttpPaymentLinkService,
    HttpPaymentServices,
    HttpWalletDirectory,
    HttpWebhooks,
)
from payflow_gateway.adapters.mongo import (
    IdempotencyRecordDocument,
    MongoApiKeyStore,
    MongoIdempotencyStore,
    MongoRefreshTokenStore,
    MongoUserStore,
)
from payflow_gateway.adapters.redis import (
    BudgetKeeper,
    LoginThrottle,
    NoLoginThrottle,
    RedisIdempotencyStore,
    RememberedUserStore,
    StreamSlots,
)
from payflow_gateway.auth.accounts import Accounts
from payflow_gateway.auth.api_keys import ApiKeys
from payflow_gateway.auth.bearer import BearerAuthenticator
from payflow_gateway.auth.passwords import PasswordHasher
from payflow_gateway.auth.sessions import Sessions
from payflow_gateway.auth.tokens import TokenCodec
from payflow_gateway.domain.rate_limits import LockoutPolicy
from payflow_gateway.handlers import LiveTransfers
from payflow_gateway.idempotency import IdempotentRequests
from payflow_gateway.metrics_port import serve_metrics_port
from payflow_gateway.ports import (
    IdempotencyStore,
    LedgerReader,
    LoginGuard,
    PaymentLinkService,
    PaymentServices,
    StreamCap,
    UserStore,
    WalletDirectory,
    WebhooksRelay,
    limits_of,
)
from payflow_gateway.settings import GatewaySettings
from payflow_gateway.throttling import RequestLimits, request_table
from payflow_service import ServiceRuntime


@dataclass(frozen=True, slots=True)
class Components:
    settings: GatewaySettings
    users: UserStore
    accounts: Accounts
    sessions: Sessions
    bearer: BearerAuthenticator
    api_keys: ApiKeys
    wallets: WalletDirectory
    ledger: LedgerReader
    payments: PaymentServices
    links: PaymentLinkService
    webhooks: WebhooksRelay
    idempotency: IdempotentRequests
    live: LiveTransfers
    logins: LoginGuard
    streams: StreamCap
    request_limits: RequestLimits | None
    """None with `PAYFLOW_RATE_LIMITS_ENABLED=false`: the middleware lets every request by."""


@contextlib.asynccontextmanager
async def compose(runtime: ServiceRuntime) -> AsyncIterator[Components]:
    settings = runtime.settings
    assert isinstance(settings, GatewaySettings)
    async with contextlib.AsyncExitStack() as stack:
        wallet_client = runtime.client_for("wallet")
        ledger_client = runtime.client_for("ledger")
        orchestrator = runtime.client_for("orchestrator", timeout=15.0)
        webhooks_client = runtime.client_for("webhooks")
        for client in (wallet_client, ledger_client, orchestrator, webhooks_client):
            stack.push_async_callback(client.aclose)
        wallets = HttpWalletDirectory(wallet_client)

        codec = TokenCodec(
            settings.signing_keys(), settings.jwt_key_id, settings.jwt_issuer, settings.jwt_audience
        )
        users = RememberedUserStore(
            MongoUserStore(),
            runtime.redis,
            settings.streams.key("user-generation"),
            max_age_s=settings.remembered_max_age_s,
        )
        api_key_store = MongoApiKeyStore()
        hasher = await PasswordHasher.create(settings.bcrypt_rounds)
        accounts = Accounts(users, hasher, wallets, settings.default_currency)
        if settings.bootstrap_admin_email and settings.bootstrap_admin_password:
            await accounts.ensure_admin(
                settings.bootstrap_admin_email,
                settings.bootstrap_admin_password.get_secret_value(),
            )

        idempotency_store: IdempotencyStore = (
            RedisIdempotencyStore(runtime.redis, settings.streams.prefix)
            if settings.idempotency_store == "redis"
            else MongoIdempotencyStore(IdempotencyRecordDocument.get_pymongo_collection())
        )
        live = LiveTransfers(runtime.redis, settings.streams.transfer_channel(""))
        runtime.start_loop("live-transfers", live.run(runtime.stopping))
        await stack.enter_async_context(serve_metrics_port(runtime))

        logins, request_limits = _throttling(runtime, settings, codec)
        yield Components(
            settings=settings,
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
            api_keys=ApiKeys(
                api_key_store, live=settings.is_production, cap=settings.max_api_keys_per_user
            ),
            wallets=wallets,
            ledger=HttpLedgerReader(ledger_client),
            payments=HttpPaymentServices(orchestrator, wallet_client, ledger_client),
            links=HttpPaymentLinkService(orchestrator),
            webhooks=HttpWebhooks(webhooks_client),
            idempotency=IdempotentRequests(
                idempotency_store, timedelta(seconds=settings.idempotency_lock_s)
            ),
            live=live,
            logins=logins,
            streams=StreamSlots(
                runtime.redis, f"{settings.stream_prefix}:gateway", settings.max_streams_per_user
            ),
            request_limits=request_limits,
        )


def _throttling(
    runtime: ServiceRuntime, settings: GatewaySettings, codec: TokenCodec
) -> tuple[LoginGuard, RequestLimits | None]:
    """The login lockout and the request budgets, both kept in Redis (none when rate limits
    are off)."""
    if not settings.rate_limits_enabled:
        return NoLoginThrottle(), None
    prefix = f"{settings.stream_prefix}:gateway"
    # The runtime's connection pool: no second set of connections to Redis.
    storage = RedisStorage(
        "async+" + settings.redis_connection_url,
        implementation="redispy",
        key_prefix=f"{prefix}:ratelimit",
        connection_pool=runtime.redis.connection_pool,  # type: ignore[arg-type]  # options are typed as scalars
    )
    keeper = BudgetKeeper(storage)
    logins = LoginThrottle(
        runtime.redis,
        prefix,
        keeper,
        limits_of("login", "email", settings.rate_limit_login_per_email),
        LockoutPolicy(
            after_failures=settings.login_lockout_after_failures,
            base_s=settings.login_lockout_base_s,
            max_s=settings.login_lockout_max_s,
            forget_after_s=settings.login_failures_forgotten_after_s,
        ),
    )
    return logins, RequestLimits(keeper, codec, request_table(settings))
