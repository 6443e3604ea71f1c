"""Fixtures of the ledger tests: the ledger (and, for the money-conservation story, the wallet)
running in-process on the real stores, with a test-side orchestrator to drive them."""

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
from payflow_contracts.saga import SagaCommand, StepReply
from payflow_messaging import BusSigner, StreamPublisher

TOKEN = "test-token"


@dataclass
class RunningService:
    """One service in this process, and what a test needs to drive it over its streams."""

    app: FastAPI
    settings: Any
    client: httpx.AsyncClient
    commands_stream: str
    _replies: dict[str, StepReply] = field(default_factory=dict)
    _last_reply_id: str = "0-0"

    @property
    def components(self) -> Any:
        """What the service's composition root yielded (its typed `Components`)."""
        return self.app.state.components

    @property
    def redis(self) -> Any:
        return self.app.state.runtime.redis

    async def send(self, command: SagaCommand) -> Envelope:
        return await StreamPublisher(self.redis, BusSigner(self.settings.bus_keys())).publish(
            self.commands_stream, command, saga_id=command.saga_id
        )

    async def ask(self, command: SagaCommand, timeout: float = 15.0) -> StepReply:
        """Send a command and wait for its reply, as the orchestrator does."""
        return (await self.replies_to([await self.send(command)], timeout))[0]

    async def replies_to(self, envelopes: list[Envelope], timeout: float = 30.0) -> list[StepReply]:
        deadline = time.monotonic() + timeout
        wanted = [e.message_id for e in envelopes]
        while True:
            entries = await self.redis.xrange(
                self.settings.streams.saga_replies, min=f"({self._last_reply_id}"
            )
            for entry_id, fields in entries:
                envelope = Envelope.from_wire(fields[b"envelope"])
                if envelope.causation_id is not None:
                    self._replies[envelope.causation_id] = envelope.open(StepReply)
                self._last_reply_id = entry_id.decode()
            if all(w in self._replies for w in wanted):
                return [self._replies[w] for w in wanted]
            if time.monotonic() > deadline:
                missing = sum(w not in self._replies for w in wanted)
                raise AssertionError(f"{missing} of {len(wanted)} replies never came")
            await asyncio.sleep(0.02)

    async def all_replies(self) -> list[StepReply]:
        entries = await self.redis.xrange(self.settings.streams.saga_replies)
        return [Envelope.from_wire(f[b"envelope"]).open(StepReply) for _, f in entries]

    async def get_json(self, path: str, **params: Any) -> Any:
        response = await self.client.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()


StartService = Callable[..., contextlib.AbstractAsyncContextManager[RunningService]]


@pytest.fixture
def start_service(stores: Any, mongo_client: Any, unique: str) -> StartService:
    """Start "ledger" or "wallet" in-process with settings overrides; both share the test's
    stream prefix, so they share the saga replies stream as in production."""

    @contextlib.asynccontextmanager
    async def start(name: str, **overrides: Any) -> AsyncIterator[RunningService]:
        options: dict[str, Any] = {
            "env": "test",
            "mongo_url": stores.mongo_url,
            "redis_url": stores.redis_url,
            "database_prefix": f"t{unique}",
            "stream_prefix": f"t{unique}",
            "internal_token": TOKEN,
            "stream_block_ms": 100,
            "stream_reclaim_interval_s": 0.2,
            **overrides,
        }
        if name == "ledger":
            from payflow_ledger.main import create_app as create_ledger
            from payflow_ledger.settings import LedgerSettings

            settings: Any = LedgerSettings(**options)
            app = create_ledger(settings)
            stream = settings.streams.ledger_commands
        else:
            from payflow_wallet.main import create_app as create_wallet
            from payflow_wallet.settings import WalletSettings

            settings = WalletSettings(**options)
            app = create_wallet(settings)
            stream = settings.streams.wallet_commands
        try:
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app),
                    base_url="http://test",
                    headers={"X-Internal-Token": settings.internal_token.get_secret_value()},
                ) as client,
            ):
                yield RunningService(app, settings, client, stream)
        finally:
            await mongo_client.drop_database(settings.database_name)

    return start


@pytest.fixture
async def ledger(start_service: StartService) -> AsyncIterator[RunningService]:
    async with start_service("ledger") as running:
        yield running
