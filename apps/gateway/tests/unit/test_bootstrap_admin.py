"""The bootstrap admin: made once when no account has its email, never by promoting someone who
registered that email first."""

from __future__ import annotations

from dataclasses import replace

import pytest

from payflow_contracts.clock import utc_now
from payflow_gateway.adapters.memory import InMemoryUserStore, InMemoryWalletDirectory
from payflow_gateway.auth.accounts import Accounts
from payflow_gateway.auth.passwords import PasswordHasher
from payflow_gateway.domain.errors import BootstrapAdminRefused, EmailTaken
from payflow_gateway.domain.users import Role, User

EMAIL = "root@payflow.dev"
PASSWORD = "bootstrap-password-1"


async def accounts_on(users: InMemoryUserStore) -> Accounts:
    return Accounts(users, await PasswordHasher.create(4), InMemoryWalletDirectory(), "USD")


async def test_the_admin_is_created_when_no_account_has_the_email() -> None:
    users = InMemoryUserStore()
    await (await accounts_on(users)).ensure_admin(EMAIL, PASSWORD)
    created = await users.credentials_for(EMAIL)
    assert created is not None and created.user.role is Role.ADMIN


async def test_an_existing_admin_is_left_alone_with_its_own_password() -> None:
    users = InMemoryUserStore()
    accounts = await accounts_on(users)
    await accounts.ensure_admin(EMAIL, PASSWORD)
    first = await users.credentials_for(EMAIL)
    await accounts.ensure_admin(EMAIL.upper(), "another-password-2")
    assert await users.credentials_for(EMAIL) == first


async def test_an_account_registered_with_the_email_is_never_promoted() -> None:
    users = InMemoryUserStore()
    accounts = await accounts_on(users)
    registered, _ = await accounts.register(EMAIL, "the-users-own-password", "Mallory")
    with pytest.raises(BootstrapAdminRefused, match="never promoted"):
        await accounts.ensure_admin(EMAIL, PASSWORD)
    assert (await users.by_id(registered.id)) == registered
    assert registered.role is Role.USER


class RegisteredMeanwhile(InMemoryUserStore):
    """Someone registers the email between the admin check and the admin's insert."""

    async def add(self, user: User, password_hash: str) -> None:
        if user.role is Role.ADMIN:
            mallory = replace(user, id="usr_0123", name="Mallory", role=Role.USER)
            await super().add(mallory, password_hash)
            raise EmailTaken(user.email)
        await super().add(user, password_hash)


async def test_a_registration_that_wins_the_race_is_not_promoted_either() -> None:
    users = RegisteredMeanwhile()
    with pytest.raises(BootstrapAdminRefused):
        await (await accounts_on(users)).ensure_admin(EMAIL, PASSWORD)
    found = await users.credentials_for(EMAIL)
    assert found is not None and found.user.role is Role.USER


class AdminMadeMeanwhile(InMemoryUserStore):
    """Another gateway process inserts the admin first."""

    async def add(self, user: User, password_hash: str) -> None:
        await super().add(replace(user, id="usr_0456", created_at=utc_now()), password_hash)
        raise EmailTaken(user.email)


async def test_an_admin_made_meanwhile_by_another_gateway_is_accepted() -> None:
    users = AdminMadeMeanwhile()
    await (await accounts_on(users)).ensure_admin(EMAIL, PASSWORD)
    found = await users.credentials_for(EMAIL)
    assert found is not None and found.user.id == "usr_0456" and found.user.is_admin
