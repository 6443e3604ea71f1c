"""Fixtures of the webhooks tests: a real HTTP receiver on 127.0.0.1 and settings for a test run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from payflow_testing.receiver import Receiver
from payflow_webhooks.settings import WebhooksSettings


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def webhook_settings(stores: Any, unique: str) -> Callable[..., WebhooksSettings]:
    """Settings of one in-process test run: its own database and Redis key prefix."""

    def build(**overrides: Any) -> WebhooksSettings:
        values: dict[str, Any] = {
            "env": "test",
            "mongo_url": stores.mongo_url,
            "redis_url": stores.redis_url,
            "database_prefix": f"t{unique}",
            "stream_prefix": f"t{unique}",
            "internal_token": "test-token",
            "webhook_retry_schedule": "1,2",
            "webhook_timeout_s": 2.0,
            "webhook_worker_poll_delay_s": 0.1,
            "stream_claim_idle_ms": 1000,
            "stream_block_ms": 100,
        }
        values.update(overrides)
        return WebhooksSettings(**values)

    return build


async def eventually(check: Callable[[], Any], timeout: float = 15.0, every: float = 0.1) -> Any:
    """Poll an async or sync `check` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


@pytest.fixture
def wait_until() -> Callable[..., Any]:
    return eventually
