"""One contract per authentication store, run on the MongoDB adapter and on its in-memory twin."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from beanie import init_beanie

from payflow_gateway.adapters.memory import (
    InMemoryApiKeyStore,
    InMemoryRefreshTokenStore,
    InMemoryUserStore,
)
from payflow_gateway.adapters.mongo import (
    ApiKeyDocument,
    MongoApiKeyStore,
    MongoRefreshTokenStore,
    MongoUserStore,
    RefreshTokenDocument,
    RevokedFamilyDocument,
    UserDocument,
)
from payflow_gateway.adapters.redis import RememberedUserStore
from payflow_gateway.domain.api_keys import ApiKey
from payflow_gateway.domain.errors import ApiKeyCollision, EmailTaken
from payflow_gateway.domain.sessions import FamilyRevocation, IssuedRefreshToken, RefreshStatus
from payflow_gateway.domain.users import Role, User
from payflow_gateway.ports import ApiKeyStore, RefreshTokenStore, UserStore
from payflow_service.quotas import QuotaExceeded

pytestmark = pytest.mark.integration

DOCUMENTS = [UserDocument, RefreshTokenDocument, RevokedFamilyDocument, ApiKeyDocument]


@pytest.fixture(params=["mongo", "remembered", "memory"])
async def backend(request: Any, mongo_db: Any) -> str:
    if request.param != "memory":
        await init_beanie(database=mongo_db, document_models=DOCUMENTS)
    return str(request.param)


@pytest.fixture
def users(backend: str, redis_client: Any, unique: str) -> UserStore:
    if backend == "memory":
        return InMemoryUserStore()
    if backend == "remembered":
        return RememberedUserStore(MongoUserStore(), redis_client, f"test{unique}:user-generation")
    return MongoUserStore()


@pytest.fixture
def refresh_tokens(backend: str) -> RefreshTokenStore:
    return MongoRefreshTokenStore() if backend != "memory" else InMemoryRefreshTokenStore()


@pytest.fixture
def api_keys(backend: str) -> ApiKeyStore:
    return MongoApiKeyStore() if backend != "memory" else InMemoryApiKeyStore()


def a_user(at: datetime, user_id: str = "usr_1", email: str = "Alice@payflow.dev") -> User:
    return User(user_id, email, "Alice", Role.USER, at)


# ---------------------------------------------------------------- users


async def test_a_user_is_found_by_id_and_by_email_in_any_letter_case(
    users: UserStore, now: datetime
) -> None:
    await users.add(a_user(now), "$2b$04$hash")
    assert await users.by_id("usr_1") == a_user(now)
    found = await users.credentials_for("ALICE@PAYFLOW.DEV")
    assert found is not None
    assert found.user == a_user(now)
    assert found.password_hash == "$2b$04$hash"
    assert await users.credentials_for("bob@payflow.dev") is None
    assert await users.by_id("usr_2") is None


async def test_an_email_registered_in_another_letter_case_is_taken(
    users: UserStore, now: datetime
) -> None:
    await users.add(a_user(now), "h")
    with pytest.raises(EmailTaken):
        await users.add(a_user(now, "usr_2", "alice@PAYFLOW.dev"), "h")
    assert await users.by_id("usr_2") is None


async def test_twenty_concurrent_adds_of_one_email_keep_exactly_one_user(
    users: UserStore, now: datetime
) -> None:
    outcomes = await asyncio.gather(
        *(
            users.add(
                a_user(now, f"usr_{i:02d}", "ALICE@payflow.dev" if i % 2 else "alice@PayFlow.dev"),
                "h",
            )
            for i in range(20)
        ),
        return_exceptions=True,
    )
    assert sum(o is None for o in outcomes) == 1
    assert all(isinstance(o, EmailTaken) for o in outcomes if o is not None)
    assert len(await users.page(100, None)) == 1


async def test_the_default_wallet_is_attached_once(users: UserStore, now: datetime) -> None:
    await users.add(a_user(now), "h")
    assert await users.attach_default_wallet("usr_1", "wal_1")
    assert not await users.attach_default_wallet("usr_1", "wal_2")
    found = await users.by_id("usr_1")
    assert found is not None
    assert found.default_wallet_id == "wal_1"


async def test_only_a_user_without_a_wallet_can_be_withdrawn(
    users: UserStore, now: datetime
) -> None:
    await users.add(a_user(now), "h")
    await users.add(a_user(now, "usr_2", "bob@payflow.dev"), "h")
    await users.attach_default_wallet("usr_2", "wal_2")
    assert await users.withdraw_unprovisioned("usr_1")
    assert not await users.withdraw_unprovisioned("usr_2")
    assert await users.by_id("usr_1") is None
    assert await users.by_id("usr_2") is not None
    # The email is free again once the failed registration is withdrawn.
    await users.add(a_user(now, "usr_3"), "h")


async def test_promotion_to_admin_happens_once(users: UserStore, now: datetime) -> None:
    await users.add(a_user(now), "h")
    assert await users.promote_to_admin("alice@payflow.dev")
    assert not await users.promote_to_admin("alice@payflow.dev")
    assert not await users.promote_to_admin("nobody@payflow.dev")
    found = await users.by_id("usr_1")
    assert found is not None
    assert found.role is Role.ADMIN


async def test_users_are_paged_in_id_order(users: UserStore, now: datetime) -> None:
    for i in (3, 1, 2):
        await users.add(a_user(now, f"usr_{i}", f"u{i}@payflow.dev"), "h")
    first = await users.page(2, None)
    assert [u.id for u in first] == ["usr_1", "usr_2"]
    assert [u.id for u in await users.page(2, first[-1].id)] == ["usr_3"]


# ---------------------------------------------------------------- refresh tokens


def a_refresh_token(at: datetime) -> IssuedRefreshToken:
    return IssuedRefreshToken("rt_1", "rt_1", "usr_1", at, at + timedelta(days=7))


async def test_a_recorded_refresh_token_is_active_until_spent(
    refresh_tokens: RefreshTokenStore, now: datetime
) -> None:
    await refresh_tokens.record(a_refresh_token(now))
    assert await refresh_tokens.status("rt_1") is RefreshStatus.ACTIVE
    assert await refresh_tokens.spend("rt_1")
    assert await refresh_tokens.status("rt_1") is RefreshStatus.SPENT
    assert not await refresh_tokens.spend("rt_1")
    assert await refresh_tokens.status("rt_unknown") is None
    assert not await refresh_tokens.spend("rt_unknown")


async def test_twenty_concurrent_spends_of_one_token_have_one_winner(
    refresh_tokens: RefreshTokenStore, now: datetime
) -> None:
    await refresh_tokens.record(a_refresh_token(now))
    spent = await asyncio.gather(*(refresh_tokens.spend("rt_1") for _ in range(20)))
    assert spent.count(True) == 1


async def test_a_revoked_token_cannot_be_spent(
    refresh_tokens: RefreshTokenStore, now: datetime
) -> None:
    await refresh_tokens.record(a_refresh_token(now))
    assert await refresh_tokens.revoke("rt_1")
    assert not await refresh_tokens.spend("rt_1")
    assert await refresh_tokens.status("rt_1") is RefreshStatus.REVOKED
    assert not await refresh_tokens.revoke("rt_1")


async def test_the_first_revocation_of_a_family_holds(
    refresh_tokens: RefreshTokenStore, now: datetime
) -> None:
    assert await refresh_tokens.family_revocation("rt_1") is None
    later = now + timedelta(days=8)
    assert (
        await refresh_tokens.revoke_family("rt_1", FamilyRevocation.REUSE, now, later)
        is FamilyRevocation.REUSE
    )
    assert (
        await refresh_tokens.revoke_family("rt_1", FamilyRevocation.LOGOUT, now, later)
        is FamilyRevocation.REUSE
    )
    assert await refresh_tokens.family_revocation("rt_1") is FamilyRevocation.REUSE
    assert await refresh_tokens.family_revocation("rt_other") is None


async def test_concurrent_revocations_of_a_family_agree_on_one_reason(
    refresh_tokens: RefreshTokenStore, now: datetime
) -> None:
    later = now + timedelta(days=8)
    reasons = [FamilyRevocation.REUSE, FamilyRevocation.LOGOUT] * 5
    held = await asyncio.gather(
        *(refresh_tokens.revoke_family("rt_1", r, now, later) for r in reasons)
    )
    assert len(set(held)) == 1
    assert await refresh_tokens.family_revocation("rt_1") is held[0]


# ---------------------------------------------------------------- API keys


def an_api_key(at: datetime, key_id: str = "key_1", user_id: str = "usr_1") -> ApiKey:
    return ApiKey(key_id, user_id, "ci", "pf_test_abcdef", at)


async def test_an_active_key_acts_as_its_owner_until_revoked(
    api_keys: ApiKeyStore, now: datetime
) -> None:
    await api_keys.add(an_api_key(now), "digest-1")
    assert await api_keys.owner_of("digest-1") == "usr_1"
    assert await api_keys.owner_of("digest-2") is None
    assert await api_keys.revoke("usr_1", "key_1")
    assert await api_keys.owner_of("digest-1") is None
    assert not await api_keys.revoke("usr_1", "key_1")


async def test_only_the_owner_can_revoke_a_key(api_keys: ApiKeyStore, now: datetime) -> None:
    await api_keys.add(an_api_key(now), "digest-1")
    assert not await api_keys.revoke("usr_2", "key_1")
    assert await api_keys.owner_of("digest-1") == "usr_1"


async def test_a_user_pages_through_their_active_keys_only(
    api_keys: ApiKeyStore, now: datetime
) -> None:
    for i in range(1, 5):
        await api_keys.add(an_api_key(now, f"key_{i}"), f"digest-{i}")
    await api_keys.add(an_api_key(now, "key_9", user_id="usr_2"), "digest-9")
    await api_keys.revoke("usr_1", "key_2")
    first = await api_keys.page_for("usr_1", 2, None)
    assert [k.id for k in first] == ["key_1", "key_3"]
    assert [k.id for k in await api_keys.page_for("usr_1", 2, "key_3")] == ["key_4"]
    assert first[0] == an_api_key(now, "key_1")


async def test_a_digest_is_stored_once(api_keys: ApiKeyStore, now: datetime) -> None:
    await api_keys.add(an_api_key(now), "digest-1")
    with pytest.raises(ApiKeyCollision):
        await api_keys.add(an_api_key(now, "key_2"), "digest-1")
    assert await api_keys.owner_of("digest-1") == "usr_1"


async def test_a_user_changed_through_one_gateway_is_seen_at_once_by_another(
    mongo_db: Any, redis_client: Any, unique: str, now: datetime
) -> None:
    await init_beanie(database=mongo_db, document_models=DOCUMENTS)
    prefix = f"test{unique}:user-generation"
    first = RememberedUserStore(MongoUserStore(), redis_client, prefix)
    second = RememberedUserStore(MongoUserStore(), redis_client, prefix)
    user = User("usr_1", "alice@payflow.dev", "Alice", Role.USER, now)
    assert await first.by_id("usr_1") is None  # remembered as missing
    await second.add(user, "$2b$04$hash")
    found = await first.by_id("usr_1")
    assert found is not None and found.role is Role.USER  # now remembered as a user
    assert await second.promote_to_admin("alice@payflow.dev")
    promoted = await first.by_id("usr_1")
    assert promoted is not None and promoted.role is Role.ADMIN
    assert await second.withdraw_unprovisioned("usr_1")
    assert await first.by_id("usr_1") is None


async def test_a_user_holds_at_most_the_cap_of_active_keys(
    api_keys: ApiKeyStore, now: datetime
) -> None:
    outcomes = await asyncio.gather(
        *(api_keys.add(an_api_key(now, f"key_{n}"), f"digest-{n}", cap=3) for n in range(12)),
        return_exceptions=True,
    )
    assert sum(o is None for o in outcomes) == 3
    assert all(isinstance(o, QuotaExceeded) for o in outcomes if o is not None)
    held = await api_keys.page_for("usr_1", 100, None)
    assert len(held) == 3
    await api_keys.add(an_api_key(now, "key_other", user_id="usr_2"), "digest-other", cap=3)
    # A revoked key no longer counts; a taken digest is still a collision, not a full quota.
    assert await api_keys.revoke("usr_1", held[0].id)
    with pytest.raises(ApiKeyCollision):
        await api_keys.add(an_api_key(now, "key_new"), "digest-other", cap=3)
    await api_keys.add(an_api_key(now, "key_new"), "digest-new", cap=3)
    with pytest.raises(QuotaExceeded):
        await api_keys.add(an_api_key(now, "key_more"), "digest-more", cap=3)
