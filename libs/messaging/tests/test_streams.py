"""The messaging library against a real Redis server: at-least-once, reclaim, dead letters."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from typing import Any

import pytest
from opentelemetry import trace

from payflow_contracts import Envelope, MessagePayload
from payflow_contracts.streams import dead_letter_stream
from payflow_messaging import BusSigner, ConsumerConfig, StreamConsumer, StreamPublisher
from payflow_observability import configure_tracing

pytestmark = pytest.mark.integration

KEY = "test-bus-key-" + "0" * 32
SIGNER = BusSigner([KEY])


class Ping(MessagePayload):
    MESSAGE_TYPE = "test.ping.v1"
    n: int


def config(stream: str, **overrides: Any) -> ConsumerConfig:
    defaults: dict[str, Any] = {
        "stream": stream,
        "group": "g",
        "claim_idle_ms": 300,
        "reclaim_interval_s": 0.1,
        "block_ms": 100,
        "max_deliveries": 3,
    }
    defaults.update(overrides)
    return ConsumerConfig(**defaults)


async def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def run_consumer(consumer: StreamConsumer) -> asyncio.Task[None]:
    task = asyncio.create_task(consumer.run())
    await asyncio.sleep(0.05)
    return task


async def stop(consumer: StreamConsumer, task: asyncio.Task[None]) -> None:
    consumer.stop()
    await asyncio.wait_for(task, timeout=15)


async def test_two_consumers_in_one_group_handle_each_message_exactly_once(
    redis_client: Any, unique: str
) -> None:
    stream = f"t{unique}:s"
    seen: Counter[int] = Counter()

    async def handle(envelope: Envelope) -> None:
        seen[envelope.open(Ping).n] += 1
        await asyncio.sleep(0.001)

    consumers = [
        StreamConsumer(redis_client, config(stream, consumer=f"c{i}"), SIGNER) for i in range(2)
    ]
    for consumer in consumers:
        consumer.register(Ping.MESSAGE_TYPE, handle)
        await consumer.ensure_group()
    tasks = [await run_consumer(c) for c in consumers]
    publisher = StreamPublisher(redis_client, SIGNER)
    for n in range(200):
        await publisher.publish(stream, Ping(n=n))
    await wait_until(lambda: sum(seen.values()) >= 200)
    await asyncio.sleep(0.5)  # time for any wrong second delivery to show up
    for consumer, task in zip(consumers, tasks, strict=True):
        await stop(consumer, task)
    assert seen == Counter(range(200))
    pending = await redis_client.xpending(stream, "g")
    assert pending["pending"] == 0


async def xacks(redis: Any) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_xack", {}).get("calls", 0))


async def test_handlers_that_finish_together_are_acknowledged_in_one_xack(
    redis_client: Any, unique: str
) -> None:
    """A batch of twenty messages whose handlers finish in the same turn of the event loop: one
    XACK acknowledges them all, and none is left pending."""
    stream = f"t{unique}:s"
    publisher = StreamPublisher(redis_client, SIGNER)
    for n in range(20):
        await publisher.publish(stream, Ping(n=n))
    seen: list[int] = []

    async def handle(envelope: Envelope) -> None:
        seen.append(envelope.open(Ping).n)

    consumer = StreamConsumer(redis_client, config(stream, concurrency=20, batch_size=20), SIGNER)
    consumer.register(Ping.MESSAGE_TYPE, handle)
    await redis_client.xgroup_create(stream, "g", id="0")
    before = await xacks(redis_client)
    task = await run_consumer(consumer)
    await wait_until(lambda: len(seen) == 20)
    await wait_until(lambda: not consumer._unacked and not consumer._acking)
    await stop(consumer, task)
    assert sorted(seen) == list(range(20))
    assert (await redis_client.xpending(stream, "g"))["pending"] == 0
    assert await xacks(redis_client) - before == 1


async def test_a_consumer_that_was_down_receives_everything_published_meanwhile(
    redis_client: Any, unique: str
) -> None:
    stream = f"t{unique}:s"
    received: list[int] = []

    async def handle(envelope: Envelope) -> None:
        received.append(envelope.open(Ping).n)

    first = StreamConsumer(redis_client, config(stream, consumer="first"), SIGNER)
    first.register(Ping.MESSAGE_TYPE, handle)
    task = await run_consumer(first)
    await stop(first, task)

    publisher = StreamPublisher(redis_client, SIGNER)
    for n in range(20):
        await publisher.publish(stream, Ping(n=n))

    again = StreamConsumer(redis_client, config(stream, consumer="again"), SIGNER)
    again.register(Ping.MESSAGE_TYPE, handle)
    task = await run_consumer(again)
    await wait_until(lambda: len(received) >= 20)
    await stop(again, task)
    assert sorted(received) == list(range(20))


async def test_a_poison_message_goes_to_the_dead_letter_stream_and_the_stream_keeps_flowing(
    redis_client: Any, unique: str
) -> None:
    stream = f"t{unique}:s"
    handled: list[int] = []
    attempts: Counter[int] = Counter()

    async def handle(envelope: Envelope) -> None:
        n = envelope.open(Ping).n
        attempts[n] += 1
        if n == 0:
            raise RuntimeError("poison")
        handled.append(n)

    consumer = StreamConsumer(redis_client, config(stream, max_deliveries=3), SIGNER)
    consumer.register(Ping.MESSAGE_TYPE, handle)
    task = await run_consumer(consumer)
    publisher = StreamPublisher(redis_client, SIGNER)
    await publisher.publish(stream, Ping(n=0))
    for n in range(1, 6):
        await publisher.publish(stream, Ping(n=n))
    dead = dead_letter_stream(stream)

    async def dead_count() -> int:
        return int(await redis_client.xlen(dead))

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and await dead_count() == 0:
        await asyncio.sleep(0.1)
    await stop(consumer, task)

    assert sorted(handled) == [1, 2, 3, 4, 5]
    assert await dead_count() == 1
    assert attempts[0] == 3
    [(_, fields)] = await redis_client.xrange(dead)
    assert fields[b"reason"] == b"too many deliveries"
    assert Envelope.from_wire(fields[b"envelope"]).open(Ping).n == 0
    assert (await redis_client.xpending(stream, "g"))["pending"] == 0


async def test_an_unreadable_message_is_dead_lettered_at_once(
    redis_client: Any, unique: str
) -> None:
    stream = f"t{unique}:s"
    consumer = StreamConsumer(redis_client, config(stream), SIGNER)
    await consumer.ensure_group()
    body = b"{not json"
    await redis_client.xadd(stream, {b"envelope": body, b"signature": SIGNER.sign(stream, body)})
    task = await run_consumer(consumer)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and await redis_client.xlen(dead_letter_stream(stream)) == 0:
        await asyncio.sleep(0.05)
    await stop(consumer, task)
    assert await redis_client.xlen(dead_letter_stream(stream)) == 1


_DOOMED_CONSUMER = textwrap.dedent(
    """
    import asyncio, sys
    from redis.asyncio import Redis
    from payflow_contracts import Envelope
    from payflow_messaging import BusSigner, ConsumerConfig, StreamConsumer

    async def main():
        redis = Redis.from_url(sys.argv[1])
        consumer = StreamConsumer(redis, ConsumerConfig(
            stream=sys.argv[2], group="g", consumer="doomed", block_ms=100, claim_idle_ms=60000),
            BusSigner([sys.argv[3]]))

        async def handle(envelope: Envelope) -> None:
            print("got", envelope.message_id, flush=True)
            await asyncio.sleep(3600)  # killed here, before the ack

        consumer.register("test.ping.v1", handle)
        await consumer.run()

    asyncio.run(main())
    """
)


async def test_a_consumer_killed_before_acking_leaves_its_message_to_another_consumer(
    redis_client: Any, stores: Any, unique: str
) -> None:
    stream = f"t{unique}:s"
    doomed = subprocess.Popen(
        [sys.executable, "-c", _DOOMED_CONSUMER, stores.redis_url, stream, KEY],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        publisher = StreamPublisher(redis_client, SIGNER)
        await asyncio.sleep(1.0)
        sent = await publisher.publish(stream, Ping(n=7))
        line = await asyncio.wait_for(asyncio.to_thread(doomed.stdout.readline), timeout=20)  # type: ignore[union-attr]
        assert line.split() == ["got", sent.message_id]
    finally:
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait()
    pending = await redis_client.xpending_range(stream, "g", min="-", max="+", count=10)
    assert [p["consumer"] for p in pending] == [b"doomed"]

    handled: list[str] = []

    async def handle(envelope: Envelope) -> None:
        handled.append(envelope.message_id)

    survivor = StreamConsumer(redis_client, config(stream, consumer="survivor"), SIGNER)
    survivor.register(Ping.MESSAGE_TYPE, handle)
    task = await run_consumer(survivor)
    await wait_until(lambda: handled == [sent.message_id])
    await stop(survivor, task)
    assert (await redis_client.xpending(stream, "g"))["pending"] == 0


async def test_graceful_shutdown_lets_an_in_flight_handler_finish_and_ack(
    redis_client: Any, unique: str
) -> None:
    stream = f"t{unique}:s"
    started = asyncio.Event()
    finished: list[int] = []

    async def handle(envelope: Envelope) -> None:
        started.set()
        await asyncio.sleep(0.5)
        finished.append(envelope.open(Ping).n)

    consumer = StreamConsumer(redis_client, config(stream), SIGNER)
    consumer.register(Ping.MESSAGE_TYPE, handle)
    task = await run_consumer(consumer)
    await StreamPublisher(redis_client, SIGNER).publish(stream, Ping(n=1))
    await asyncio.wait_for(started.wait(), timeout=5)
    await stop(consumer, task)
    assert finished == [1]
    assert (await redis_client.xpending(stream, "g"))["pending"] == 0


async def test_trace_context_travels_in_the_envelope(redis_client: Any, unique: str) -> None:
    configure_tracing("messaging-test")
    stream = f"t{unique}:s"
    tracer = trace.get_tracer("test")
    seen: list[tuple[str | None, int]] = []

    async def handle(envelope: Envelope) -> None:
        ctx = trace.get_current_span().get_span_context()
        seen.append((envelope.traceparent, ctx.trace_id))

    consumer = StreamConsumer(redis_client, config(stream), SIGNER)
    consumer.register(Ping.MESSAGE_TYPE, handle)
    task = await run_consumer(consumer)
    with tracer.start_as_current_span("producer-side") as span:
        producer_trace = span.get_span_context().trace_id
        await StreamPublisher(redis_client, SIGNER).publish(stream, Ping(n=1))
    await wait_until(lambda: len(seen) == 1)
    await stop(consumer, task)
    traceparent, consumer_trace = seen[0]
    assert traceparent is not None
    assert traceparent.split("-")[1] == format(producer_trace, "032x")
    assert consumer_trace == producer_trace


async def test_a_consumer_survives_a_redis_restart_and_goes_on_consuming(
    tmp_path: Any, unique: str
) -> None:
    from redis.asyncio import Redis

    from payflow_devstack import start_embedded_redis

    server = start_embedded_redis(tmp_path)
    client = Redis.from_url(server.url)
    stream = f"t{unique}:s"
    handled: list[int] = []

    async def handle(envelope: Envelope) -> None:
        handled.append(envelope.open(Ping).n)

    consumer = StreamConsumer(client, config(stream), SIGNER)
    consumer.register(Ping.MESSAGE_TYPE, handle)
    task = await run_consumer(consumer)
    try:
        await StreamPublisher(client, SIGNER).publish(stream, Ping(n=1))
        await wait_until(lambda: handled == [1])
        server.stop()  # the consumer is blocked in XREADGROUP when Redis goes away
        await asyncio.sleep(1.5)
        assert not task.done(), "the consumer died with Redis"
        server = start_embedded_redis(tmp_path, port=server.port, password=server.extra["password"])
        await StreamPublisher(client, SIGNER).publish(stream, Ping(n=2))
        await wait_until(lambda: 2 in handled, timeout=20)
        assert set(handled) == {1, 2}  # at least once: 1 again if its ack was lost
    finally:
        await stop(consumer, task)
        await client.aclose()
        server.stop()
