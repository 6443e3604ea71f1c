"""`AsyncPayFlow` against the real running system: the same resources awaited, auto-paging with
`async for`, the stream, and one token renewal shared by concurrent requests."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest
from client_support import PASSWORD, expired_access_token

from payflow_client import AsyncPayFlow, NotFoundError, ValidationError

pytestmark = pytest.mark.e2e


async def _person(base_url: str, name: str) -> tuple[AsyncPayFlow, Any]:
    email = f"{name}-{secrets.token_hex(4)}@example.com"
    client = AsyncPayFlow(base_url, email=email, password=PASSWORD)
    registered = await client.auth.register(email, PASSWORD, name)
    return client, registered


async def test_an_async_payment_with_paging_streaming_and_errors(base_url: str) -> None:
    alice, alice_reg = await _person(base_url, "alice")
    bob, bob_reg = await _person(base_url, "bob")
    async with alice, bob:
        wallets = [w async for w in alice.wallets.list()]
        assert [w.id for w in wallets] == [alice_reg.wallet.id]
        await alice.top_ups.create(alice_reg.wallet.id, 3_000, wait=10)
        made = await asyncio.gather(
            *(
                alice.transfers.create(
                    source_wallet_id=alice_reg.wallet.id,
                    destination_wallet_id=bob_reg.wallet.id,
                    amount=100 * (i + 1),
                    currency="USD",
                )
                for i in range(3)
            )
        )
        finals = await asyncio.gather(*(alice.transfers.wait(t.id, timeout=30) for t in made))
        assert {t.status for t in finals} == {"completed"}
        seen = [t async for t in alice.transfers.stream(made[0].id)]
        assert seen == [] or seen[-1].state == "completed"
        received = [t.id async for t in bob.transfers.list(status="completed", page_size=1)]
        assert sorted(received) == sorted(t.id for t in made)
        pages = [p async for p in alice.transfers.list(page_size=2).pages()]
        assert [len(p.data) for p in pages] == [2, 2]
        assert (await bob.wallets.retrieve(bob_reg.wallet.id)).balance == 600
        entries = [e async for e in bob.wallets.entries(bob_reg.wallet.id)]
        assert sorted(e.amount for e in entries) == [100, 200, 300]
        with pytest.raises(NotFoundError):
            await alice.transfers.retrieve("tr_missing")
        with pytest.raises(ValidationError) as same:
            await alice.transfers.create(
                source_wallet_id=alice_reg.wallet.id,
                destination_wallet_id=alice_reg.wallet.id,
                amount=1,
                currency="USD",
            )
        assert same.value.code == "same_wallet"


async def test_a_stream_opened_before_the_transfer_finishes_shows_its_progress(
    base_url: str,
) -> None:
    alice, alice_reg = await _person(base_url, "alice")
    bob, bob_reg = await _person(base_url, "bob")
    async with alice, bob:
        await alice.top_ups.create(alice_reg.wallet.id, 1_000, wait=10)
        # A credit fault that times out keeps the saga busy for seconds before it compensates.
        fault = await alice.sandbox.add_fault("credit", "timeout", match_metadata={"case": "slow"})
        try:
            started = await alice.transfers.create(
                source_wallet_id=alice_reg.wallet.id,
                destination_wallet_id=bob_reg.wallet.id,
                amount=500,
                currency="USD",
                metadata={"case": "slow"},
            )
            seen = [t async for t in alice.transfers.stream(started.id)]
        finally:
            await alice.sandbox.remove_fault(fault.id)
        assert len(seen) >= 2, [t.state for t in seen]
        assert seen[-1].status == "failed" and seen[-1].compensated
        assert len({t.state for t in seen}) == len(seen)
        assert (await alice.wallets.retrieve(alice_reg.wallet.id)).balance == 1_000


async def test_concurrent_requests_with_an_expired_token_renew_it_once(base_url: str) -> None:
    """Refresh tokens work once (a reuse revokes the session): ten requests that all meet the
    expired token must share one renewal."""
    alice, registered = await _person(base_url, "alice")
    async with alice:
        await alice.auth.me()
        renewals: list[str] = []
        async with AsyncPayFlow(
            base_url,
            access_token=expired_access_token(registered.user.id),
            refresh_token=alice.tokens.refresh_token,
            on_tokens=lambda access, _refresh: renewals.append(access),
        ) as client:
            users = await asyncio.gather(*(client.auth.me() for _ in range(10)))
            assert {u.id for u in users} == {registered.user.id}
            assert len(renewals) == 1
