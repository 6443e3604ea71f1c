"""Fixtures of the wallet tests: the service running in-process on the real stores, with its
command consumer on a real Redis stream, and a test-side orchestrator to talk to it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from payflow_contracts import Envelope
from payflow_contracts.clock import utc_now
from payflow_contracts.saga import CreditWallet, SagaCommand, SagaStep, StepReply
from payflow_messaging import BusSigner, StreamPublisher
from payflow_wallet.bootstrap import Components
from payflow_wallet.main import create_app
from payflow_wallet.settings import WalletSettings

TOKEN = "test-token"


@dataclass
class RunningWallet:
    """The wallet service in this process, and what a test needs to drive it."""

    app: FastAPI
    settings: WalletSettings
    client: httpx.AsyncClient
    _replies: dict[str, StepReply] = field(default_factory=dict)
    _last_reply_id: bytes = b"0-0"

    @property
    def components(self) -> Components:
        components = self.app.state.components
        assert isinstance(components, Components)
        return components

    @property
    def redis(self) -> Any:
        return self.app.state.runtime.redis

    async def send(self, command: SagaCommand) -> Envelope:
        """Publish a command on the wallet command stream, as the orchestrator does."""
        return await StreamPublisher(self.redis, BusSigner(self.settings.bus_keys())).publish(
            self.settings.streams.wallet_commands, command, saga_id=command.saga_id
        )

    async def reply_to(self, envelope: Envelope, timeout: float = 15.0) -> StepReply:
        replies = await self.replies_to([envelope], timeout)
        return replies[0]

    async def replies_to(self, envelopes: list[Envelope], timeout: float = 30.0) -> list[StepReply]:
        deadline = time.monotonic() + timeout
        wanted = [e.message_id for e in envelopes]
        while True:
            await self._read_replies()
            if all(w in self._replies for w in wanted):
                return [self._replies[w] for w in wanted]
            if time.monotonic() > deadline:
                missing = sum(w not in self._replies for w in wanted)
                raise AssertionError(f"{missing} of {len(wanted)} replies never came")
            await asyncio.sleep(0.02)

    async def all_replies(self) -> list[tuple[Envelope, StepReply]]:
        entries = await self.redis.xrange(self.settings.streams.saga_replies)
        envelopes = [Envelope.from_wire(fields[b"envelope"]) for _, fields in entries]
        return [(e, e.open(StepReply)) for e in envelopes]

    async def _read_replies(self) -> None:
        entries = await self.redis.xrange(
            self.settings.streams.saga_replies, min=f"({self._last_reply_id.decode()}"
        )
        for entry_id, fields in entries:
            envelope = Envelope.from_wire(fields[b"envelope"])
            assert envelope.causation_id is not None
            self._replies[envelope.causation_id] = envelope.open(StepReply)
            self._last_reply_id = entry_id

    async def create_wallet(self, owner_id: str = "usr_1", currency: str = "USD") -> str:
        response = await self.client.post(
            "/internal/wallets", json={"owner_id": owner_id, "currency": currency}
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def funded_wallet(self, amount: int, owner_id: str = "usr_1") -> str:
        """A new wallet credited with `amount` through a real credit command."""
        wallet_id = await self.create_wallet(owner_id)
        sent = await self.send(
            CreditWallet(
                saga_id=f"tr_fund{wallet_id[4:]}",
                step=SagaStep.CREDIT_DESTINATION,
                amount=amount,
                currency="USD",
                wallet_id=wallet_id,
                saga_created_at=utc_now(),  # as the orchestrator says on every command
            )
        )
        assert (await self.reply_to(sent)).outcome == "credited"
        return wallet_id

    async def balance(self, wallet_id: str) -> int:
        response = await self.client.get(f"/internal/wallets/{wallet_id}")
        assert response.status_code == 200, response.text
        return int(response.json()["balance"])


StartWallet = Callable[..., contextlib.AbstractAsyncContextManager[RunningWallet]]


@pytest.fixture
def start_wallet(stores: Any, mongo_client: Any, unique: str) -> StartWallet:
    """Start the wallet service with settings overrides (e.g. `env="production"`)."""

    @contextlib.asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[RunningWallet]:
        options: dict[str, Any] = {
            "env": "test",
            "mongo_url": stores.mongo_url,
            "redis_url": stores.redis_url,
            "database_prefix": f"t{unique}",
            "stream_prefix": f"t{unique}",
            "internal_token": TOKEN,
            "stream_block_ms": 100,
            "stream_reclaim_interval_s": 0.2,
            "mark_prune_interval_s": 0.2,
            "mark_min_age_s": 0.0,
            **overrides,
        }
        settings = WalletSettings(**options)
        app = create_app(settings)
        try:
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app),
                    base_url="http://test",
                    headers={"X-Internal-Token": settings.internal_token.get_secret_value()},
                ) as client,
            ):
                yield RunningWallet(app, settings, client)
        finally:
            await mongo_client.drop_database(settings.database_name)

    return start


@pytest.fixture
async def wallet_service(start_wallet: StartWallet) -> AsyncIterator[RunningWallet]:
    async with start_wallet() as running:
        yield running
