"""Only messages signed with a bus key are read: the rest are dead-lettered unread, counted and
logged (against a real Redis server)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
from prometheus_client import REGISTRY

from payflow_contracts import Envelope, MessagePayload
from payflow_contracts.streams import dead_letter_stream
from payflow_messaging import BusSigner, ConsumerConfig, Rejection, StreamConsumer, StreamPublisher

pytestmark = pytest.mark.integration

OLD_KEY = "old-bus-key-" + "a" * 32
NEW_KEY = "new-bus-key-" + "b" * 32


class Ping(MessagePayload):
    MESSAGE_TYPE = "test.ping.v1"
    n: int


def rejected(stream: str, reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "payflow_stream_messages_rejected_total", {"stream": stream, "reason": reason}
    )
    return value or 0.0


class Bench:
    """One consumer on one stream, recording what its handler saw."""

    def __init__(self, redis: Any, stream: str, signer: BusSigner) -> None:
        self.redis = redis
        self.stream = stream
        self.handled: list[int] = []
        self.consumer = StreamConsumer(
            redis,
            ConsumerConfig(stream=stream, group="g", block_ms=100, reclaim_interval_s=0.1),
            signer,
        )
        self.consumer.register(Ping.MESSAGE_TYPE, self._handle)
        self._task: asyncio.Task[None] | None = None

    async def _handle(self, envelope: Envelope) -> None:
        self.handled.append(envelope.open(Ping).n)

    async def __aenter__(self) -> Bench:
        await self.consumer.ensure_group()
        self._task = asyncio.create_task(self.consumer.run())
        return self

    async def __aexit__(self, *_: object) -> None:
        self.consumer.stop()
        assert self._task is not None
        await asyncio.wait_for(self._task, timeout=15)

    async def raw(self, fields: dict[bytes, bytes]) -> None:
        await self.redis.xadd(self.stream, fields)

    async def until_handled(self, n: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while n not in self.handled:
            assert time.monotonic() < deadline, f"message {n} never handled"
            await asyncio.sleep(0.02)

    async def dead(self) -> list[dict[bytes, bytes]]:
        return [fields for _, fields in await self.redis.xrange(dead_letter_stream(self.stream))]


def wire(n: int) -> bytes:
    return Envelope.wrap(Ping(n=n)).to_wire().encode()


async def test_unsigned_and_wrongly_signed_messages_are_dead_lettered_unread_counted_and_logged(
    redis_client: Any, unique: str, caplog: pytest.LogCaptureFixture
) -> None:
    stream = f"t{unique}:signed"
    ours = BusSigner([NEW_KEY])
    theirs = BusSigner(["a-key-the-attacker-made-up-" + "c" * 32])
    caplog.set_level(logging.ERROR, logger="payflow_messaging.consumer")
    async with Bench(redis_client, stream, ours) as bench:
        await bench.raw({b"envelope": wire(1)})
        await bench.raw({b"envelope": wire(2), b"signature": theirs.sign(stream, wire(2))})
        await bench.raw({b"envelope": wire(3), b"signature": b"v1=" + b"0" * 64})
        await bench.raw({b"envelope": wire(4), b"signature": b"not a signature"})
        # A body changed after signing, and a message signed for another stream.
        await bench.raw({b"envelope": wire(50), b"signature": ours.sign(stream, wire(5))})
        await bench.raw({b"envelope": wire(6), b"signature": ours.sign(f"{stream}x", wire(6))})
        await StreamPublisher(redis_client, ours).publish(stream, Ping(n=7))
        await bench.until_handled(7)
    assert bench.handled == [7]
    dead = await bench.dead()
    assert [Envelope.from_wire(f[b"envelope"]).open(Ping).n for f in dead] == [1, 2, 3, 4, 50, 6]
    assert [f[b"reason"] for f in dead] == [b"missing_signature"] + [b"bad_signature"] * 5
    assert rejected(stream, Rejection.MISSING_SIGNATURE) == 1
    assert rejected(stream, Rejection.BAD_SIGNATURE) == 5
    assert (await redis_client.xpending(stream, "g"))["pending"] == 0
    logged = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
    assert len(logged) == 6
    assert f"on {stream} rejected (missing_signature)" in logged[0]


async def test_a_key_rotation_loses_no_message(redis_client: Any, unique: str) -> None:
    stream = f"t{unique}:rotation"
    before = StreamPublisher(redis_client, BusSigner([OLD_KEY]))
    # Step 1: every process accepts the new key, still signing with the old one.
    async with Bench(redis_client, stream, BusSigner([OLD_KEY, NEW_KEY])) as bench:
        await before.publish(stream, Ping(n=1))
        await bench.until_handled(1)
    # Step 2: the new key signs; messages of the old key still in flight are accepted.
    during = StreamPublisher(redis_client, BusSigner([NEW_KEY, OLD_KEY]))
    async with Bench(redis_client, stream, BusSigner([NEW_KEY, OLD_KEY])) as bench:
        await before.publish(stream, Ping(n=2))
        await during.publish(stream, Ping(n=3))
        await bench.until_handled(2)
        await bench.until_handled(3)
    # Step 3: the old key is dropped, and what it signs is refused from then on.
    async with Bench(redis_client, stream, BusSigner([NEW_KEY])) as bench:
        await during.publish(stream, Ping(n=4))
        await before.publish(stream, Ping(n=5))
        await bench.until_handled(4)
        deadline = time.monotonic() + 10
        while not await bench.dead():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
    assert bench.handled == [4]
    [dead] = await bench.dead()
    assert dead[b"reason"] == b"bad_signature"
    assert Envelope.from_wire(dead[b"envelope"]).open(Ping).n == 5


def test_a_signature_is_the_versioned_hmac_of_the_stream_and_body() -> None:
    import hashlib
    import hmac

    signer = BusSigner([NEW_KEY, OLD_KEY])
    expected = hmac.new(NEW_KEY.encode(), b"s\nbody", hashlib.sha256).hexdigest()
    assert signer.sign("s", b"body") == b"v1=" + expected.encode()
    assert signer.check("s", b"body", BusSigner([OLD_KEY]).sign("s", b"body")) is None
    assert signer.check("s", b"body", None) is Rejection.MISSING_SIGNATURE
    assert signer.check("s", b"body", b"") is Rejection.MISSING_SIGNATURE
    assert signer.check("s", b"body", expected.encode()) is Rejection.BAD_SIGNATURE
    with pytest.raises(ValueError, match="at least one non-empty key"):
        BusSigner([])
    with pytest.raises(ValueError, match="at least one non-empty key"):
        BusSigner([NEW_KEY, ""])
