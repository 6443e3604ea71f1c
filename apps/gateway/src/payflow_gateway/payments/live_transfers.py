"""The orchestrator's live state changes, heard once per gateway process.

One Redis pattern subscription feeds every `Prefer: wait` request and every SSE stream of the
process: a waiter is woken by the notice of its transfer instead of polling the orchestrator, and
no request opens a Redis connection of its own. Pub/Sub is at most once, so callers keep a
fallback read for a notice that never comes; terminal notices are also kept for a short while,
so a waiter that registers just after its transfer finished still finds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from redis.asyncio import Redis

logger = logging.getLogger(__name__)

TERMINAL = frozenset({"completed", "failed"})


class LiveTransfers:
    """Routes `<prefix>:live:transfer:<id>` notices to the tasks waiting on that transfer."""

    def __init__(self, redis: Redis, channel_prefix: str, remember: int = 20_000) -> None:
        self._redis = redis
        self._pattern = f"{channel_prefix}*"
        self._prefix_len = len(channel_prefix)
        self._listeners: dict[str, set[asyncio.Queue[dict[str, Any]]]] = {}
        self._finished: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._remember = remember
        self._task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="live-transfers")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self) -> None:
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(self._pattern)
                self.subscribed.set()
                async for message in pubsub.listen():
                    if message.get("type") == "pmessage":
                        self._deliver(message["channel"], message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis went away: notices are best effort, resubscribe
                self.subscribed.clear()
                logger.warning("live transfer notices interrupted, resubscribing: %r", exc)
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _deliver(self, channel: bytes | str, data: bytes | str) -> None:
        name = channel.decode() if isinstance(channel, bytes) else channel
        transfer_id = name[self._prefix_len :]
        try:
            view = json.loads(data)
        except ValueError:
            logger.warning("unreadable live notice on %s ignored", name)
            return
        if view.get("status") in TERMINAL:
            self._finished[transfer_id] = view
            if len(self._finished) > self._remember:
                self._finished.popitem(last=False)
        for queue in self._listeners.get(transfer_id, ()):
            queue.put_nowait(view)

    # ------------------------------------------------------------ use

    def finished(self, transfer_id: str) -> dict[str, Any] | None:
        """The terminal view of a transfer heard lately, if any."""
        return self._finished.get(transfer_id)

    @contextlib.contextmanager
    def listen(self, transfer_id: str) -> Iterator[asyncio.Queue[dict[str, Any]]]:
        """A queue of the transfer's notices while the `with` block lasts."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._listeners.setdefault(transfer_id, set()).add(queue)
        try:
            yield queue
        finally:
            listeners = self._listeners.get(transfer_id)
            if listeners is not None:
                listeners.discard(queue)
                if not listeners:
                    del self._listeners[transfer_id]

    async def terminal(self, transfer_id: str, seconds: float) -> dict[str, Any] | None:
        """The transfer's terminal view if its notice arrives within `seconds`, else None."""
        with self.listen(transfer_id) as queue:
            known = self.finished(transfer_id)
            if known is not None:
                return known
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    while True:
                        view = await queue.get()
                        if view.get("status") in TERMINAL:
                            return view
        return None
