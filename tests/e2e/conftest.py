"""The running system for end-to-end tests: every service its own OS process, on real stores.

One stack per test session (starting six processes costs seconds); tests isolate themselves by
registering their own users. Timings are shortened so recovery paths run in seconds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import ADMIN_EMAIL, ADMIN_PASSWORD, E2E_ENV, Customer, register

from payflow_testing import ServiceStack
from payflow_testing.stores import StoreEndpoints


@pytest.fixture(scope="session")
def trace_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("traces") / "spans.jsonl"


@pytest.fixture(scope="session")
def stack(
    stores: StoreEndpoints, tmp_path_factory: pytest.TempPathFactory, trace_file: Path
) -> Iterator[ServiceStack]:
    env = {**E2E_ENV, "PAYFLOW_TRACE_FILE": str(trace_file)}
    with ServiceStack(
        mongo_url=stores.mongo_url,
        redis_url=stores.redis_url,
        work_dir=tmp_path_factory.mktemp("stack"),
        extra_env=env,
    ) as running:
        yield running


@pytest.fixture(scope="session")
def gateway_url(stack: ServiceStack) -> str:
    return stack.url("gateway")


@pytest.fixture
async def customers(gateway_url: str) -> AsyncIterator[Any]:
    """A factory of freshly registered customers, closed after the test."""
    made: list[Customer] = []

    async def make(name: str = "user") -> Customer:
        customer = await register(gateway_url, name)
        made.append(customer)
        return customer

    yield make
    for customer in made:
        await customer.client.aclose()


@pytest.fixture
async def admin(gateway_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as anonymous:
        login = await anonymous.post(
            "/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 200, login.text
    async with httpx.AsyncClient(
        base_url=gateway_url,
        timeout=60,
        headers={"Authorization": f"Bearer {login.json()['access_token']}"},
    ) as client:
        yield client
