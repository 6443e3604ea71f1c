"""One contract per authentication store, run on the MongoDB adapter and on its in-memory twin."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from beanie import init_beanie

from payflow_gateway.auth.api_key_store import (
    ApiKey,
    ApiKeyCollision,
    ApiKeyDocument,
    ApiKeyStore,
    InMemoryApiKeyStore,
    MongoApiKeyStore,
)
from payflow_gateway.auth.refresh_tokens import (
    InMemoryRefreshTokenStore,
    IssuedRefreshToken,
    MongoRefreshTokenStore,
    RefreshTokenDocument,
    RefreshTokenStore,
    RevokedFamilyDocument,
)
from payflow_gateway.auth.users import (
    EmailTaken,
    InMemoryUserStore,
    MongoUserStore,
    UserDocument,
    UserStore,
)
from payflow_gateway.domain.sessions import FamilyRevocation, RefreshStatus
from payflow_gateway.domain.users import Role, User

pytestmark = pytest.mark.integration

# Today, not a fixed date: the stores' TTL indexes delete a token or revocation whose expiry has
# passed, so a fixed date makes these tests fail once it is a week old.
NOW = datetime.now(UTC).replace(microsecond=0)
DOCUMENTS = [UserDocument, RefreshTokenDocument, RevokedFamilyDocument, ApiKeyDocument]


@pytest.fixture(params=["mongo", "memory"])
async def backend(request: Any, mongo_db: Any) -> str:
    if request.param == "mongo":
        await init_beanie(database=mongo_db, document_models=DOCUMENTS)
    return str(request.param)


@pytest.fixture
def users(backend: str) -> UserStore:
    return MongoUserStore() if backend == "mongo" else InMemoryUserStore()


@pytest.fixture
def refresh_tokens(backend: str) -> RefreshTokenStore:
    return MongoRefreshTokenStore() if backend == "mongo" else InMemoryRefreshTokenStore()


@pytest.fixture
def api_keys(backend: str) -> ApiKeyStore:
    return MongoApiKeyStore() if backend == "mongo" else InMemoryApiKeyStore()


def a_user(user_id: str = "usr_1", email: str = "Alice@payflow.dev") -> User:
    return User(user_id, email, "Alice", Role.USER, NOW)


# ---------------------------------------------------------------- users


async def test_a_user_is_found_by_id_and_by_email_in_any_letter_case(users: UserStore) -> None:
    await users.add(a_user(), "$2b$04$hash")
    assert await users.by_id("usr_1") == a_user()
    found = await users.credentials_for("ALICE@PAYFLOW.DEV")
    assert found is not None
    assert found.user == a_user()
    assert found.password_hash == "$2b$04$hash"
    assert await users.credentials_for("bob@payflow.dev") is None
    assert await users.by_id("usr_2") is None


async def test_an_email_registered_in_another_letter_case_is_taken(users: UserStore) -> None:
    await users.add(a_user(), "h")
    with pytest.raises(EmailTaken):
        await users.add(a_user("usr_2", "alice@PAYFLOW.dev"), "h")
    assert await users.by_id("usr_2") is None


async def test_twenty_concurrent_adds_of_one_email_keep_exactly_one_user(users: UserStore) -> None:
    outcomes = await asyncio.gather(
        *(
            users.add(
                a_user(f"usr_{i:02d}", "ALICE@payflow.dev" if i % 2 else "alice@PayFlow.dev"), "h"
            )
            for i in range(20)
        ),
        return_exceptions=True,
    )
    assert sum(o is None for o in outcomes) == 1
    assert all(isinstance(o, EmailTaken) for o in outcomes if o is not None)
    assert len(await users.page(100, None)) == 1


async def test_the_default_wallet_is_attached_once(users: UserStore) -> None:
    await users.add(a_user(), "h")
    assert await users.attach_default_wallet("usr_1", "wal_1")
    assert not await users.attach_default_wallet("usr_1", "wal_2")
    found = await users.by_id("usr_1")
    assert found is not None
    assert found.default_wallet_id == "wal_1"


async def test_only_a_user_without_a_wallet_can_be_withdrawn(users: UserStore) -> None:
    await users.add(a_user(), "h")
    await users.add(a_user("usr_2", "bob@payflow.dev"), "h")
    await users.attach_default_wallet("usr_2", "wal_2")
    assert await users.withdraw_unprovisioned("usr_1")
    assert not await users.withdraw_unprovisioned("usr_2")
    assert await users.by_id("usr_1") is None
    assert await users.by_id("usr_2") is not None
    # The email is free again once the failed registration is withdrawn.
    await users.add(a_user("usr_3"), "h")


async def test_promotion_to_admin_happens_once(users: UserStore) -> None:
    await users.add(a_user(), "h")
    assert await users.promote_to_admin("alice@payflow.dev")
    assert not await users.promote_to_admin("alice@payflow.dev")
    assert not await users.promote_to_admin("nobody@payflow.dev")
    found = await users.by_id("usr_1")
    assert found is not None
    assert found.role is Role.ADMIN


async def test_users_are_paged_in_id_order(users: UserStore) -> None:
    for i in (3, 1, 2):
        await users.add(a_user(f"usr_{i}", f"u{i}@payflow.dev"), "h")
    first = await users.page(2, None)
    assert [u.id for u in first] == ["usr_1", "usr_2"]
    assert [u.id for u in await users.page(2, first[-1].id)] == ["usr_3"]


# ---------------------------------------------------------------- refresh tokens


def a_refresh_token() -> IssuedRefreshToken:
    return IssuedRefreshToken("rt_1", "rt_1", "usr_1", NOW, NOW + timedelta(days=7))


async def test_a_recorded_refresh_token_is_active_until_spent(
    refresh_tokens: RefreshTokenStore,
) -> None:
    await refresh_tokens.record(a_refresh_token())
    assert await refresh_tokens.status("rt_1") is RefreshStatus.ACTIVE
    assert await refresh_tokens.spend("rt_1")
    assert await refresh_tokens.status("rt_1") is RefreshStatus.SPENT
    assert not await refresh_tokens.spend("rt_1")
    assert await refresh_tokens.status("rt_unknown") is None
    assert not await refresh_tokens.spend("rt_unknown")


async def test_twenty_concurrent_spends_of_one_token_have_one_winner(
    refresh_tokens: RefreshTokenStore,
) -> None:
    await refresh_tokens.record(a_refresh_token())
    spent = await asyncio.gather(*(refresh_tokens.spend("rt_1") for _ in range(20)))
    assert spent.count(True) == 1


async def test_a_revoked_token_cannot_be_spent(refresh_tokens: RefreshTokenStore) -> None:
    await refresh_tokens.record(a_refresh_token())
    assert await refresh_tokens.revoke("rt_1")
    assert not await refresh_tokens.spend("rt_1")
    assert await refresh_tokens.status("rt_1") is RefreshStatus.REVOKED
    assert not await refresh_tokens.revoke("rt_1")


async def test_the_first_revocation_of_a_family_holds(refresh_tokens: RefreshTokenStore) -> None:
    assert await refresh_tokens.family_revocation("rt_1") is None
    later = NOW + timedelta(days=8)
    assert (
        await refresh_tokens.revoke_family("rt_1", FamilyRevocation.REUSE, NOW, later)
        is FamilyRevocation.REUSE
    )
    assert (
        await refresh_tokens.revoke_family("rt_1", FamilyRevocation.LOGOUT, NOW, later)
        is FamilyRevocation.REUSE
    )
    assert await refresh_tokens.family_revocation("rt_1") is FamilyRevocation.REUSE
    assert await refresh_tokens.family_revocation("rt_other") is None


async def test_concurrent_revocations_of_a_family_agree_on_one_reason(
    refresh_tokens: RefreshTokenStore,
) -> None:
    later = NOW + timedelta(days=8)
    reasons = [FamilyRevocation.REUSE, FamilyRevocation.LOGOUT] * 5
    held = await asyncio.gather(
        *(refresh_tokens.revoke_family("rt_1", r, NOW, later) for r in reasons)
    )
    assert len(set(held)) == 1
    assert await refresh_tokens.family_revocation("rt_1") is held[0]


# ---------------------------------------------------------------- API keys


def an_api_key(key_id: str = "key_1", user_id: str = "usr_1") -> ApiKey:
    return ApiKey(key_id, user_id, "ci", "pf_test_abcdef", NOW)


async def test_an_active_key_acts_as_its_owner_until_revoked(api_keys: ApiKeyStore) -> None:
    await api_keys.add(an_api_key(), "digest-1")
    assert await api_keys.owner_of("digest-1") == "usr_1"
    assert await api_keys.owner_of("digest-2") is None
    assert await api_keys.revoke("usr_1", "key_1")
    assert await api_keys.owner_of("digest-1") is None
    assert not await api_keys.revoke("usr_1", "key_1")


async def test_only_the_owner_can_revoke_a_key(api_keys: ApiKeyStore) -> None:
    await api_keys.add(an_api_key(), "digest-1")
    assert not await api_keys.revoke("usr_2", "key_1")
    assert await api_keys.owner_of("digest-1") == "usr_1"


async def test_a_user_pages_through_their_active_keys_only(api_keys: ApiKeyStore) -> None:
    for i in range(1, 5):
        await api_keys.add(an_api_key(f"key_{i}"), f"digest-{i}")
    await api_keys.add(an_api_key("key_9", user_id="usr_2"), "digest-9")
    await api_keys.revoke("usr_1", "key_2")
    first = await api_keys.page_for("usr_1", 2, None)
    assert [k.id for k in first] == ["key_1", "key_3"]
    assert [k.id for k in await api_keys.page_for("usr_1", 2, "key_3")] == ["key_4"]
    assert first[0] == an_api_key("key_1")


async def test_a_digest_is_stored_once(api_keys: ApiKeyStore) -> None:
    await api_keys.add(an_api_key(), "digest-1")
    with pytest.raises(ApiKeyCollision):
        await api_keys.add(an_api_key("key_2"), "digest-1")
    assert await api_keys.owner_of("digest-1") == "usr_1"
