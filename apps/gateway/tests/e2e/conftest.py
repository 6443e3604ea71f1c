"""The gateway as its own OS process, with the real wallet, ledger and orchestrator behind it, shared
by every gateway E2E test of the session; plus a second gateway on the same database whose keys
were rotated, whose tokens live a second, and whose wallet service is down."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from payflow_devstack.stores import free_port
from payflow_testing.stack import ServiceStack
from payflow_testing.stores import StoreEndpoints

ADMIN_EMAIL = "root@payflow.dev"
ADMIN_PASSWORD = "admin-password-" + secrets.token_hex(4)
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Gateways:
    main: ServiceStack
    rotated: ServiceStack
    """Same database; current key `k2`, previous key `k1` (main's); 2 s access, 3 s refresh
    tokens; its wallet service URL answers nothing."""
    jwt_secret: str
    rotated_secret: str

    @property
    def database_name(self) -> str:
        return f"{self.main.database_prefix}_gateway"

    @property
    def main_log(self) -> Path:
        return self.main.processes["gateway"].log_path


@pytest.fixture(scope="session")
def gateways(
    stores: StoreEndpoints, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateways]:
    work_dir = tmp_path_factory.mktemp("gateway-e2e")
    jwt_secret = secrets.token_urlsafe(48)
    rotated_secret = secrets.token_urlsafe(48)
    common = {"PAYFLOW_BCRYPT_ROUNDS": "4", "PAYFLOW_LOG_LEVEL": "INFO"}
    main = ServiceStack(
        mongo_url=stores.mongo_url,
        redis_url=stores.redis_url,
        work_dir=work_dir / "main",
        services=("wallet", "ledger", "orchestrator", "gateway"),
        extra_env={
            **common,
            "PAYFLOW_JWT_SECRET": jwt_secret,
            "PAYFLOW_JWT_KEY_ID": "k1",
            "PAYFLOW_BOOTSTRAP_ADMIN_EMAIL": ADMIN_EMAIL,
            "PAYFLOW_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        },
    )
    rotated = ServiceStack(
        mongo_url=stores.mongo_url,
        redis_url=stores.redis_url,
        work_dir=work_dir / "rotated",
        services=("gateway",),
        database_prefix=main.database_prefix,
        internal_token=main.internal_token,
        extra_env={
            **common,
            "PAYFLOW_JWT_SECRET": rotated_secret,
            "PAYFLOW_JWT_KEY_ID": "k2",
            "PAYFLOW_JWT_PREVIOUS_SECRETS": f"k1:{jwt_secret}",
            "PAYFLOW_JWT_ACCESS_TTL_SECONDS": "2",
            "PAYFLOW_JWT_REFRESH_TTL_SECONDS": "3",
            "PAYFLOW_WALLET_URL": f"http://127.0.0.1:{free_port()}",
        },
    )
    with main, rotated:
        yield Gateways(main, rotated, jwt_secret, rotated_secret)


@pytest.fixture(scope="session")
async def api(gateways: Gateways) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateways.main.url("gateway"), timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
async def rotated_api(gateways: Gateways) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateways.rotated.url("gateway"), timeout=30) as client:
        yield client


@pytest.fixture
def gateway_db(mongo_client: Any, gateways: Gateways) -> Any:
    return mongo_client[gateways.database_name]


@dataclass(frozen=True)
class Users:
    """How tests make users: through the public API, as a client would."""

    api: httpx.AsyncClient
    admin_email: str = ADMIN_EMAIL
    admin_password: str = ADMIN_PASSWORD
    password: str = PASSWORD

    @staticmethod
    def new_email(tag: str = "user") -> str:
        return f"{tag}-{secrets.token_hex(4)}@payflow.dev"

    async def register(self, email: str | None = None) -> tuple[dict[str, Any], str]:
        email = email or self.new_email()
        response = await self.api.post(
            "/v1/auth/register",
            json={"email": email, "password": self.password, "name": "Test User"},
        )
        assert response.status_code == 201, response.text
        return response.json(), email

    async def login(
        self, email: str, password: str | None = None, api: httpx.AsyncClient | None = None
    ) -> dict[str, Any]:
        response = await (api or self.api).post(
            "/v1/auth/login", json={"email": email, "password": password or self.password}
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def signed_up(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """A new user, registered and logged in: (registration answer, token pair)."""
        registered, email = await self.register()
        return registered, await self.login(email)


@pytest.fixture(scope="session")
def users(api: httpx.AsyncClient) -> Users:
    return Users(api)
