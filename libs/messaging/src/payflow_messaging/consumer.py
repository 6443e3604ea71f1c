"""A consumer-group worker for one stream, routing envelopes to handlers by message type."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from opentelemetry import trace
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from payflow_contracts import Envelope
from payflow_contracts.streams import dead_letter_stream
from payflow_messaging.metrics import (
    DEAD_LETTER_BACKLOG,
    DEAD_LETTERS,
    MESSAGES_FAILED,
    MESSAGES_HANDLED,
    MESSAGES_RECLAIMED,
    MESSAGES_REJECTED,
    PENDING,
)
from payflow_messaging.publisher import ENVELOPE_FIELD
from payflow_messaging.signing import SIGNATURE_FIELD, BusSigner
from payflow_observability import extract_context

logger = logging.getLogger(__name__)

# A lost or restarted Redis: wait and go on (redis-py's errors are not the built-in ones).
TRANSIENT_ERRORS = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError, OSError)
tracer = trace.get_tracer("payflow.messaging")

Handler = Callable[[Envelope], Awaitable[None]]


class StreamSettings(Protocol):
    """The `PAYFLOW_STREAM_*` settings every service has (payflow_settings.ServiceSettings)."""

    stream_claim_idle_ms: int
    stream_max_deliveries: int
    stream_block_ms: int
    stream_reclaim_interval_s: float


@dataclass(frozen=True)
class ConsumerConfig:
    stream: str
    group: str
    consumer: str = ""
    max_deliveries: int = 10
    claim_idle_ms: int = 15_000
    reclaim_interval_s: float = 2.0
    block_ms: int = 1_000
    batch_size: int = 32
    concurrency: int = 16

    @classmethod
    def from_settings(
        cls, settings: StreamSettings, *, stream: str, group: str, concurrency: int = 16
    ) -> ConsumerConfig:
        return cls(
            stream=stream,
            group=group,
            claim_idle_ms=settings.stream_claim_idle_ms,
            max_deliveries=settings.stream_max_deliveries,
            block_ms=settings.stream_block_ms,
            reclaim_interval_s=settings.stream_reclaim_interval_s,
            concurrency=concurrency,
        )

    def consumer_name(self) -> str:
        # One name per process: a restarted process is a new consumer; what the old one left
        # pending is reclaimed by idle time, never silently re-owned.
        return self.consumer or f"{self.group}-{socket.gethostname()}-{os.getpid()}"


class StreamConsumer:
    """Hands each message to the handler of its type once its signature checks out; a message
    that is not signed with one of the bus keys is dead-lettered unread."""

    def __init__(self, redis: Redis, config: ConsumerConfig, signer: BusSigner) -> None:
        self._redis = redis
        self.config = config
        self._signer = signer
        self.name = config.consumer_name()
        self._handlers: dict[str, Handler] = {}
        self._stopping = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(config.concurrency)
        self._unacked: list[tuple[bytes, asyncio.Future[None]]] = []
        """Handled messages waiting for the next acknowledgement (`_acknowledge`)."""
        self._acking: set[asyncio.Task[None]] = set()

    def register(self, message_type: str, handler: Handler) -> None:
        if message_type in self._handlers:
            raise ValueError(f"a handler for {message_type!r} is already registered")
        self._handlers[message_type] = handler

    async def ensure_group(self) -> None:
        try:
            # From "0": a group created after messages were published still receives them.
            await self._redis.xgroup_create(
                self.config.stream, self.config.group, id="0", mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def stop(self) -> None:
        self._stopping.set()

    async def run(self, until: asyncio.Event | None = None) -> None:
        """Consume until `stop()` (or `until` is set); then let in-flight handlers finish."""
        if until is not None:
            stopper = asyncio.create_task(until.wait())
            stopper.add_done_callback(lambda _: self.stop())
        reclaimer = asyncio.create_task(self._reclaim_loop(), name=f"reclaim:{self.config.stream}")
        group_ready = False
        try:
            while not self._stopping.is_set():
                try:
                    if not group_ready:
                        await self.ensure_group()
                        group_ready = True
                    await self._read_new()
                except TRANSIENT_ERRORS as exc:
                    logger.warning("stream read failed, retrying: %s", exc)
                    await self._sleep(1.0)
                except ResponseError as exc:
                    # NOGROUP: Redis lost the group (restarted without its data): make it again.
                    group_ready = False
                    if "NOGROUP" not in str(exc):
                        logger.exception("stream read refused by Redis; retrying")
                        await self._sleep(1.0)
        finally:
            reclaimer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reclaimer
            if self._in_flight:
                await asyncio.wait(self._in_flight, timeout=10)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _read_new(self) -> None:
        # Dispatch waits for a free handler slot, so at most `concurrency` run at once.
        response = await self._redis.xreadgroup(
            self.config.group,
            self.name,
            {self.config.stream: ">"},
            count=self.config.batch_size,
            block=self.config.block_ms,
        )
        for _stream, entries in response or []:
            for entry_id, fields in entries:
                await self._dispatch(entry_id, fields)

    async def _dispatch(self, entry_id: bytes, fields: dict[bytes, bytes] | None) -> None:
        await self._slots.acquire()
        task = asyncio.create_task(self._handle(entry_id, fields))
        self._in_flight.add(task)

        def _done(t: asyncio.Task[None]) -> None:
            self._in_flight.discard(t)
            self._slots.release()

        task.add_done_callback(_done)

    async def _handle(self, entry_id: bytes, fields: dict[bytes, bytes] | None) -> None:
        stream = self.config.stream
        raw = (fields or {}).get(ENVELOPE_FIELD)
        rejection = self._signer.check(stream, raw or b"", (fields or {}).get(SIGNATURE_FIELD))
        if rejection is not None:
            # Whoever wrote it can reach Redis but does not hold the bus key: it is never read.
            MESSAGES_REJECTED.labels(stream, rejection.value).inc()
            logger.error(
                "message %s on %s rejected (%s): dead-lettered unread",
                entry_id.decode(),
                stream,
                rejection.value,
                extra={"rejection": rejection.value},
            )
            await self._dead_letter(entry_id, fields or {}, rejection.value)
            return
        try:
            envelope = Envelope.from_wire(raw or b"")
        except ValueError:
            logger.error("unreadable message %s on %s: dead-lettered", entry_id, stream)
            await self._dead_letter(entry_id, fields or {}, "unreadable envelope")
            return
        handler = self._handlers.get(envelope.type)
        if handler is None:
            logger.error("no handler for %s (message %s): dead-lettered", envelope.type, entry_id)
            await self._dead_letter(entry_id, fields or {}, f"no handler for {envelope.type}")
            return
        parent = extract_context(envelope.traceparent, envelope.tracestate)
        with tracer.start_as_current_span(
            f"consume {envelope.type}",
            context=parent,
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "redis",
                "messaging.destination.name": stream,
                "messaging.consumer.group.name": self.config.group,
                "messaging.message.id": envelope.message_id,
                "messaging.message.type": envelope.type,
                **({"payflow.transfer_id": envelope.saga_id} if envelope.saga_id else {}),
            },
        ) as span:
            try:
                await handler(envelope)
            except Exception as exc:
                MESSAGES_FAILED.labels(stream, envelope.type).inc()
                span.record_exception(exc)
                span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
                logger.warning(
                    "handler for %s failed on message %s; left pending for redelivery",
                    envelope.type,
                    entry_id.decode(),
                    exc_info=True,
                    extra={"saga_id": envelope.saga_id},
                )
                return
        try:
            await self._acknowledge(entry_id)
        except TRANSIENT_ERRORS as exc:
            # Handled but not acknowledged: it will be delivered again (handlers are idempotent).
            logger.warning("ack of %s failed: %s", entry_id.decode(), exc)
            return
        MESSAGES_HANDLED.labels(stream, envelope.type).inc()

    async def _acknowledge(self, entry_id: bytes) -> None:
        """Acknowledge a handled message, in one XACK with every other message whose handler
        finished by the time it is sent (under load, handlers of one batch finish together);
        returns once it is acknowledged, as a lone XACK did. Nothing new is at stake while it
        waits: a message handled and not yet acknowledged is delivered again if the process
        dies, as it always was between a handler's end and its XACK."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._unacked.append((entry_id, done))
        if len(self._unacked) == 1:
            asyncio.get_running_loop().call_soon(self._send_acks)
        await done

    def _send_acks(self) -> None:
        batch, self._unacked = self._unacked, []
        self._acking.add(task := asyncio.create_task(self._xack([e for e, _ in batch])))

        def settle(sent: asyncio.Task[None]) -> None:
            self._acking.discard(sent)
            failure = None if sent.cancelled() else sent.exception()
            for _, done in batch:
                if done.done():
                    continue
                if sent.cancelled():
                    done.cancel()
                elif failure is not None:
                    done.set_exception(failure)
                else:
                    done.set_result(None)

        task.add_done_callback(settle)

    async def _xack(self, entry_ids: list[bytes]) -> None:
        await self._redis.xack(self.config.stream, self.config.group, *entry_ids)

    async def _reclaim_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.reclaim_idle()
                await self._report_backlog()
            except TRANSIENT_ERRORS as exc:
                logger.warning("reclaim failed, retrying: %s", exc)
            except ResponseError as exc:
                logger.warning("reclaim failed: %s", exc)
            await self._sleep(self.config.reclaim_interval_s)

    async def reclaim_idle(self) -> int:
        """Claim messages idle past `claim_idle_ms`; dead-letter those delivered too often."""
        claimed_total = 0
        start: Any = "0-0"
        while True:
            result = await self._redis.xautoclaim(
                self.config.stream,
                self.config.group,
                self.name,
                min_idle_time=self.config.claim_idle_ms,
                start_id=start,
                count=self.config.batch_size,
            )
            start, entries = result[0], result[1]
            for entry_id, fields in entries:
                if fields is None:  # deleted from the stream meanwhile
                    await self._redis.xack(self.config.stream, self.config.group, entry_id)
                    continue
                claimed_total += 1
                MESSAGES_RECLAIMED.labels(self.config.stream).inc()
                if await self._times_delivered(entry_id) > self.config.max_deliveries:
                    await self._dead_letter(entry_id, fields, "too many deliveries")
                else:
                    await self._dispatch(entry_id, fields)
            if start in (b"0-0", "0-0") or not entries:
                return claimed_total

    async def _times_delivered(self, entry_id: bytes) -> int:
        rows = await self._redis.xpending_range(
            self.config.stream, self.config.group, min=entry_id, max=entry_id, count=1
        )
        return int(rows[0]["times_delivered"]) if rows else 0

    async def _dead_letter(self, entry_id: bytes, fields: dict[bytes, bytes], reason: str) -> None:
        dead = dead_letter_stream(self.config.stream)
        record: dict[Any, Any] = dict(fields)
        record[b"original_id"] = entry_id
        record[b"reason"] = reason.encode()
        record[b"group"] = self.config.group.encode()
        await self._redis.xadd(dead, record)
        await self._redis.xack(self.config.stream, self.config.group, entry_id)
        DEAD_LETTERS.labels(self.config.stream).inc()
        logger.error(
            "message %s on %s dead-lettered: %s", entry_id.decode(), self.config.stream, reason
        )

    async def _report_backlog(self) -> None:
        summary = await self._redis.xpending(self.config.stream, self.config.group)
        PENDING.labels(self.config.stream, self.config.group).set(int(summary.get("pending", 0)))
        DEAD_LETTER_BACKLOG.labels(self.config.stream).set(
            await self._redis.xlen(dead_letter_stream(self.config.stream))
        )
