"""The real PayFlow system for the client's tests: every service its own OS process on the
session's real stores (the `stores` fixture of payflow_testing), shared by the session; each
test registers its own people.

The client under test never imports server code; these tests may (to build the gateway's OpenAPI
document, or to mint a token with the stack's signing key)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from client_support import ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD, STACK_ENV, Person

from payflow_client import PayFlow
from payflow_testing import ServiceStack
from payflow_testing.stores import StoreEndpoints


@pytest.fixture(scope="session")
def stack(
    stores: StoreEndpoints, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceStack]:
    with ServiceStack(
        mongo_url=stores.mongo_url,
        redis_url=stores.redis_url,
        work_dir=tmp_path_factory.mktemp("client-stack"),
        extra_env=STACK_ENV,
    ) as running:
        yield running


@pytest.fixture(scope="session")
def base_url(stack: ServiceStack) -> str:
    return stack.url("gateway")


@pytest.fixture
def people(base_url: str) -> Iterator[Callable[[str], Person]]:
    made: list[Person] = []

    def make(name: str = "user") -> Person:
        email = f"{name}-{secrets.token_hex(4)}@example.com"
        client = PayFlow(base_url, email=email, password=PASSWORD)
        registered = client.auth.register(email, PASSWORD, name)
        person = Person(email, PASSWORD, registered.user.id, registered.wallet.id, client)
        made.append(person)
        return person

    yield make
    for person in made:
        person.client.close()


@pytest.fixture
def admin_client(base_url: str) -> Iterator[PayFlow]:
    with PayFlow(base_url, email=ADMIN_EMAIL, password=ADMIN_PASSWORD) as client:
        yield client


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return tmp_path / "payflow-config"
