"""In-memory twins of the gateway's adapters: each passes the contract suite its MongoDB (or
HTTP) counterpart passes, for unit tests and for use cases run without stores."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from payflow_contracts import new_id
from payflow_gateway.domain.api_keys import ApiKey, ApiKeyStatus
from payflow_gateway.domain.errors import ApiKeyCollision, EmailTaken, WalletClosed, WalletNotFound
from payflow_gateway.domain.idempotency import Claim, Claimed, decide
from payflow_gateway.domain.pages import Page
from payflow_gateway.domain.sessions import FamilyRevocation, IssuedRefreshToken, RefreshStatus
from payflow_gateway.domain.users import Credentials, Role, User, email_key
from payflow_gateway.domain.wallets import Wallet, WalletFacts, WalletStatus, facts_of
from payflow_service.quotas import QuotaExceeded


class InMemoryUserStore:
    def __init__(self) -> None:
        self._users: dict[str, Credentials] = {}

    def _by_email(self, email: str) -> Credentials | None:
        key = email_key(email)
        return next((c for c in self._users.values() if email_key(c.user.email) == key), None)

    async def add(self, user: User, password_hash: str) -> None:
        if self._by_email(user.email) is not None or user.id in self._users:
            raise EmailTaken(user.email)
        self._users[user.id] = Credentials(user, password_hash)

    async def by_id(self, user_id: str) -> User | None:
        found = self._users.get(user_id)
        return found.user if found else None

    async def credentials_for(self, email: str) -> Credentials | None:
        return self._by_email(email)

    async def attach_default_wallet(self, user_id: str, wallet_id: str) -> bool:
        found = self._users.get(user_id)
        if found is None or found.user.default_wallet_id is not None:
            return False
        user = replace(found.user, default_wallet_id=wallet_id)
        self._users[user_id] = Credentials(user, found.password_hash)
        return True

    async def withdraw_unprovisioned(self, user_id: str) -> bool:
        found = self._users.get(user_id)
        if found is None or found.user.default_wallet_id is not None:
            return False
        del self._users[user_id]
        return True

    async def promote_to_admin(self, email: str) -> bool:
        found = self._by_email(email)
        if found is None or found.user.role is Role.ADMIN:
            return False
        self._users[found.user.id] = Credentials(
            replace(found.user, role=Role.ADMIN), found.password_hash
        )
        return True

    async def page(self, limit: int, after: str | None) -> list[User]:
        ids = sorted(i for i in self._users if after is None or i > after)
        return [self._users[i].user for i in ids[:limit]]


class InMemoryApiKeyStore:
    def __init__(self) -> None:
        self._keys: dict[str, tuple[ApiKey, str, ApiKeyStatus]] = {}

    async def add(self, key: ApiKey, digest: str, cap: int | None = None) -> None:
        if key.id in self._keys or any(d == digest for _, d, _ in self._keys.values()):
            raise ApiKeyCollision(key.id)
        active = sum(
            1
            for stored, _, status in self._keys.values()
            if stored.user_id == key.user_id and status is ApiKeyStatus.ACTIVE
        )
        if cap is not None and active >= cap:
            raise QuotaExceeded(cap)
        self._keys[key.id] = (key, digest, ApiKeyStatus.ACTIVE)

    async def owner_of(self, digest: str) -> str | None:
        for key, stored, status in self._keys.values():
            if stored == digest and status is ApiKeyStatus.ACTIVE:
                return key.user_id
        return None

    async def page_for(self, user_id: str, limit: int, after: str | None) -> list[ApiKey]:
        mine = sorted(
            (key for key, _, status in self._keys.values() if status is ApiKeyStatus.ACTIVE),
            key=lambda key: key.id,
        )
        return [k for k in mine if k.user_id == user_id and (after is None or k.id > after)][:limit]

    async def revoke(self, user_id: str, key_id: str) -> bool:
        found = self._keys.get(key_id)
        if found is None or found[0].user_id != user_id or found[2] is not ApiKeyStatus.ACTIVE:
            return False
        self._keys[key_id] = (found[0], found[1], ApiKeyStatus.REVOKED)
        return True


class InMemoryRefreshTokenStore:
    def __init__(self) -> None:
        self._tokens: dict[str, RefreshStatus] = {}
        self._families: dict[str, FamilyRevocation] = {}

    async def record(self, token: IssuedRefreshToken) -> None:
        if token.token_id in self._tokens:
            raise ValueError(f"refresh token {token.token_id} already recorded")
        self._tokens[token.token_id] = RefreshStatus.ACTIVE

    async def _swap_status(self, token_id: str, to: RefreshStatus) -> bool:
        if self._tokens.get(token_id) is not RefreshStatus.ACTIVE:
            return False
        self._tokens[token_id] = to
        return True

    async def spend(self, token_id: str) -> bool:
        return await self._swap_status(token_id, RefreshStatus.SPENT)

    async def revoke(self, token_id: str) -> bool:
        return await self._swap_status(token_id, RefreshStatus.REVOKED)

    async def status(self, token_id: str) -> RefreshStatus | None:
        return self._tokens.get(token_id)

    async def revoke_family(
        self, family_id: str, reason: FamilyRevocation, now: datetime, keep_until: datetime
    ) -> FamilyRevocation:
        return self._families.setdefault(family_id, reason)

    async def family_revocation(self, family_id: str) -> FamilyRevocation | None:
        return self._families.get(family_id)


class InMemoryIdempotencyStore:
    def __init__(self) -> None:
        self._records: dict[str, dict[str, Any]] = {}

    async def claim(
        self, record_id: str, fingerprint: str, now: datetime, lock_for: timedelta, ttl: timedelta
    ) -> Claim:
        existing = self._records.get(record_id)
        if existing is not None and existing["expires_at"] > now:
            decided = decide(existing, fingerprint, now)
            if decided is not None:
                return decided
            token = secrets.token_hex(8)
            existing.update(locked_until=now + lock_for, token=token)
            return Claimed(token)
        token = secrets.token_hex(8)
        self._records[record_id] = {
            "fingerprint": fingerprint,
            "state": "in_progress",
            "token": token,
            "locked_until": now + lock_for,
            "expires_at": now + ttl,
        }
        return Claimed(token)

    async def complete(self, record_id: str, token: str, status: int, body: Any) -> None:
        record = self._records.get(record_id)
        if record is not None and record["state"] == "in_progress" and record["token"] == token:
            record.update(state="completed", status=status, body=body)

    async def release(self, record_id: str, token: str) -> None:
        record = self._records.get(record_id)
        if record is not None and record["state"] == "in_progress" and record["token"] == token:
            del self._records[record_id]


class InMemoryWalletDirectory:
    def __init__(self) -> None:
        self._wallets: dict[str, Wallet] = {}

    async def open_wallet(self, owner_id: str, currency: str) -> Wallet:
        now = datetime.now(UTC)
        wallet = Wallet(new_id("wal"), owner_id, currency, 0, WalletStatus.ACTIVE, now, now)
        self._wallets[wallet.id] = wallet
        return wallet

    async def wallet(self, wallet_id: str) -> Wallet | None:
        return self._wallets.get(wallet_id)

    async def facts(self, wallet_id: str) -> WalletFacts | None:
        found = self._wallets.get(wallet_id)
        return facts_of(found) if found is not None else None

    async def wallets_of(self, owner_id: str, limit: int, cursor: str | None) -> Page[Wallet]:
        mine = sorted(
            (w for w in self._wallets.values() if w.owner_id == owner_id and w.id > (cursor or "")),
            key=lambda w: w.id,
        )
        more = len(mine) > limit
        return Page(mine[:limit], mine[limit - 1].id if more else None)

    async def _set_status(self, wallet_id: str, status: WalletStatus) -> Wallet:
        found = self._wallets.get(wallet_id)
        if found is None:
            raise WalletNotFound(wallet_id)
        if found.status is WalletStatus.CLOSED:
            raise WalletClosed(wallet_id)
        updated = Wallet(
            found.id,
            found.owner_id,
            found.currency,
            found.balance,
            status,
            found.created_at,
            datetime.now(UTC),
        )
        self._wallets[wallet_id] = updated
        return updated

    async def freeze(self, wallet_id: str) -> Wallet:
        return await self._set_status(wallet_id, WalletStatus.FROZEN)

    async def unfreeze(self, wallet_id: str) -> Wallet:
        return await self._set_status(wallet_id, WalletStatus.ACTIVE)
