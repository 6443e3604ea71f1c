"""The wallet service as the gateway uses it: a protocol, the HTTP adapter of its internal API,
and an in-memory twin."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from payflow_contracts import new_id
from payflow_gateway.domain.pages import Page
from payflow_gateway.domain.wallets import Wallet, WalletFacts, WalletStatus, facts_of
from payflow_gateway.ids import is_id, segment
from payflow_gateway.internal_http import call_service, refusal
from payflow_service import ProblemError


class WalletDirectory(Protocol):
    async def open_wallet(self, owner_id: str, currency: str) -> Wallet: ...
    async def wallet(self, wallet_id: str) -> Wallet | None: ...
    async def facts(self, wallet_id: str) -> WalletFacts | None:
        """Owner and currency, which never change: answered from memory once seen."""
        ...

    async def wallets_of(self, owner_id: str, limit: int, cursor: str | None) -> Page[Wallet]: ...
    async def freeze(self, wallet_id: str) -> Wallet: ...
    async def unfreeze(self, wallet_id: str) -> Wallet: ...


def wallet_from_json(body: dict[str, Any]) -> Wallet:
    return Wallet(
        id=body["id"],
        owner_id=body["owner_id"],
        currency=body["currency"],
        balance=int(body["balance"]),
        status=WalletStatus(body["status"]),
        created_at=datetime.fromisoformat(body["created_at"]),
        updated_at=datetime.fromisoformat(body["updated_at"]),
    )


class HttpWalletDirectory:
    def __init__(self, client: httpx.AsyncClient, facts_capacity: int = 100_000) -> None:
        self._client = client
        # A wallet's owner and currency are fixed at opening, so a remembered answer is never
        # stale; unknown ids are not remembered (the wallet may be opened a moment later).
        self._facts: dict[str, WalletFacts] = {}
        self._facts_capacity = facts_capacity

    def _remember(self, wallet: Wallet) -> Wallet:
        if len(self._facts) >= self._facts_capacity:
            self._facts.pop(next(iter(self._facts)))  # the oldest entry: bounded memory
        self._facts[wallet.id] = facts_of(wallet)
        return wallet

    async def facts(self, wallet_id: str) -> WalletFacts | None:
        known = self._facts.get(wallet_id)
        if known is not None:
            return known
        wallet = await self.wallet(wallet_id)
        return facts_of(wallet) if wallet is not None else None

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await call_service(self._client, "wallet", method, path, **kwargs)

    async def open_wallet(self, owner_id: str, currency: str) -> Wallet:
        response = await self._call(
            "POST", "/internal/wallets", json={"owner_id": owner_id, "currency": currency}
        )
        if response.status_code not in (200, 201):
            raise refusal(response)
        return self._remember(wallet_from_json(response.json()))

    async def wallet(self, wallet_id: str) -> Wallet | None:
        if not is_id(wallet_id, "wal"):
            return None  # no wallet has such an id
        response = await self._call("GET", f"/internal/wallets/{segment(wallet_id)}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise refusal(response)
        return self._remember(wallet_from_json(response.json()))

    async def wallets_of(self, owner_id: str, limit: int, cursor: str | None) -> Page[Wallet]:
        params: dict[str, Any] = {"owner_id": owner_id, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = await self._call("GET", "/internal/wallets", params=params)
        if response.status_code != 200:
            raise refusal(response)
        body = response.json()
        return Page([wallet_from_json(w) for w in body["data"]], body.get("next_cursor"))

    async def _set_frozen(self, wallet_id: str, action: str) -> Wallet:
        response = await self._call("POST", f"/internal/wallets/{segment(wallet_id)}/{action}")
        if response.status_code != 200:
            raise refusal(response)
        return wallet_from_json(response.json())

    async def freeze(self, wallet_id: str) -> Wallet:
        return await self._set_frozen(wallet_id, "freeze")

    async def unfreeze(self, wallet_id: str) -> Wallet:
        return await self._set_frozen(wallet_id, "unfreeze")


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
            raise ProblemError(404, "wallet_not_found", "No such wallet.")
        if found.status is WalletStatus.CLOSED:
            raise ProblemError(409, "wallet_closed", "The wallet is closed.")
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
