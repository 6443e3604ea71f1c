"""The webhooks worker goes on delivering after Redis was killed and restarted (found by
`make chaos`: ARQ's polling loop ended at the first connection error, and the process stayed up,
ready by its health checks, delivering nothing until it was restarted by hand)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from payflow_contracts import new_id
from payflow_contracts.events import TransferEvent, transfer_event_id
from payflow_contracts.transfers import TRANSFER_EXAMPLE
from payflow_devstack import start_embedded_redis
from payflow_messaging import BusSigner, StreamPublisher
from payflow_testing.receiver import Receiver
from payflow_webhooks.main import create_app as create_service
from payflow_webhooks.settings import WebhooksSettings
from payflow_webhooks.worker.main import create_app as create_worker

pytestmark = pytest.mark.integration


async def publish_completed(redis: Any, settings: WebhooksSettings, owner: str) -> str:
    transfer_id = new_id("tr")
    event = TransferEvent(
        event_id=transfer_event_id(transfer_id, "transfer.completed"),
        event_type="transfer.completed",
        transfer_id=transfer_id,
        owner_ids=[owner],
        transfer={**TRANSFER_EXAMPLE, "id": transfer_id, "status": "completed"},
    )
    await StreamPublisher(redis, BusSigner(settings.bus_keys())).publish(
        settings.streams.transfer_events, event, saga_id=transfer_id
    )
    return transfer_id


async def test_deliveries_go_on_after_redis_is_killed_and_restarted(
    tmp_path: Path,
    receiver: Receiver,
    webhook_settings: Callable[..., WebhooksSettings],
    wait_until: Any,
    unique: str,
) -> None:
    from redis.asyncio import Redis

    server = start_embedded_redis(tmp_path)
    settings = webhook_settings(
        redis_url=server.url, webhook_sweeper_interval_s=0.2, webhook_sweeper_grace_s=1.0
    )
    path = f"/redis-restart/{unique}"
    redis = Redis.from_url(server.url)
    service, worker = create_service(settings), create_worker(settings)
    try:
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(service.router.lifespan_context(service))
            await stack.enter_async_context(worker.router.lifespan_context(worker))
            client = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=service),
                    base_url="http://test",
                    headers={"X-Internal-Token": "test-token"},
                )
            )
            created = await client.post(
                "/internal/webhook-endpoints",
                params={"owner_id": "usr_a"},
                json={"url": receiver.url(path), "event_types": ["transfer.completed"]},
            )
            assert created.status_code == 201, created.text

            first = await publish_completed(redis, settings, "usr_a")
            await receiver.wait_for(path, 1, timeout=20)

            server.process.send_signal(signal.SIGKILL)  # a crash: nothing flushed on the way out
            server.process.wait(timeout=10)
            await asyncio.sleep(2.0)  # the worker polls a dead Redis meanwhile
            # The same server again: same port, same data, same password.
            server = start_embedded_redis(
                tmp_path, port=server.port, password=server.extra["password"]
            )

            second = await publish_completed(redis, settings, "usr_a")
            await wait_until(
                lambda: any(second.encode() in r.body for r in receiver.received(path)),
                timeout=30,
            )
            assert any(first.encode() in r.body for r in receiver.received(path))
    finally:
        await redis.aclose()
        server.stop()
