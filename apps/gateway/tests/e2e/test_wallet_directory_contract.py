"""One contract for the gateway's view of the wallet service: the HTTP adapter against the real
wallet process, and the in-memory twin."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from payflow_gateway.adapters.http import HttpWalletDirectory
from payflow_gateway.adapters.memory import InMemoryWalletDirectory
from payflow_gateway.domain.wallets import WalletStatus
from payflow_gateway.ports import WalletDirectory

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["http", "memory"])
async def directory(request: Any, gateways: Any) -> AsyncIterator[WalletDirectory]:
    if request.param == "memory":
        yield InMemoryWalletDirectory()
        return
    stack = gateways.main
    async with httpx.AsyncClient(
        base_url=stack.url("wallet"), headers={"X-Internal-Token": stack.internal_token}
    ) as client:
        yield HttpWalletDirectory(client)


def an_owner() -> str:
    return f"usr_contract{secrets.token_hex(6)}"


async def test_an_opened_wallet_is_empty_active_and_found_by_id(
    directory: WalletDirectory,
) -> None:
    owner = an_owner()
    wallet = await directory.open_wallet(owner, "USD")
    assert (wallet.owner_id, wallet.currency, wallet.balance) == (owner, "USD", 0)
    assert wallet.status is WalletStatus.ACTIVE
    assert wallet.id.startswith("wal_")
    assert await directory.wallet(wallet.id) == wallet


async def test_an_unknown_wallet_is_none(directory: WalletDirectory) -> None:
    assert await directory.wallet("wal_unknown0000000000000000") is None
    assert await directory.facts("wal_unknown0000000000000000") is None


async def test_a_wallets_facts_are_its_owner_and_currency_and_outlast_a_freeze(
    directory: WalletDirectory,
) -> None:
    owner = an_owner()
    wallet = await directory.open_wallet(owner, "EUR")
    facts = await directory.facts(wallet.id)
    assert facts is not None
    assert (facts.id, facts.owner_id, facts.currency) == (wallet.id, owner, "EUR")
    assert facts.is_owned_by(owner)
    await directory.freeze(wallet.id)
    assert await directory.facts(wallet.id) == facts


async def test_an_owners_wallets_come_page_by_page_and_only_theirs(
    directory: WalletDirectory,
) -> None:
    owner = an_owner()
    opened = {(await directory.open_wallet(owner, c)).id for c in ("USD", "EUR", "GBP")}
    await directory.open_wallet(an_owner(), "USD")
    first = await directory.wallets_of(owner, 2, None)
    assert len(first.items) == 2
    assert first.next_cursor is not None
    rest = await directory.wallets_of(owner, 2, first.next_cursor)
    assert rest.next_cursor is None
    assert {w.id for w in first.items + rest.items} == opened


async def test_freeze_and_unfreeze_change_the_status(directory: WalletDirectory) -> None:
    wallet = await directory.open_wallet(an_owner(), "USD")
    assert (await directory.freeze(wallet.id)).status is WalletStatus.FROZEN
    assert (await directory.freeze(wallet.id)).status is WalletStatus.FROZEN
    assert (await directory.unfreeze(wallet.id)).status is WalletStatus.ACTIVE
    found = await directory.wallet(wallet.id)
    assert found is not None
    assert found.status is WalletStatus.ACTIVE
