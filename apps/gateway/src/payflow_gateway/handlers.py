"""The orchestrator's live state changes, heard once per gateway process.

One Redis pattern subscription feeds every `Prefer: wait` request and every SSE stream of the
process: a waiter is woken by the notice of its transfer instead of polling the orchestrator, and
no request opens a Redis connection of its own. Pub/Sub is at most once, so callers keep a
fallback read for a notice that never comes; terminal notices are also kept for a short while,
so a waiter that registers just after its transfer finished still finds it.

Notices are read as the typed `TransferPublic` the orchestrator announces, parsed once per
notice and only when a request waits on that transfer (terminal ones when first asked for).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError
from redis.asyncio import Redis

from payflow_contracts.transfers import TransferPublic

logger = logging.getLogger(__name__)

TERMINAL = frozenset({"completed", "failed"})


class LiveTransfers:
    """Routes `<prefix>:live:transfer:<id>` notices to the tasks waiting on that transfer."""

    def __init__(self, redis: Redis, channel_prefix: str, remember: int = 20_000) -> None:
        self._redis = redis
        self._pattern = f"{channel_prefix}*"
        self._prefix_len = len(channel_prefix)
        self._listeners: dict[str, set[asyncio.Queue[TransferPublic]]] = {}
        self._finished: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._remember = remember
        self.subscribed = asyncio.Event()

    # ------------------------------------------------------------ lifecycle

    async def run(self, stop: asyncio.Event) -> None:
        """Listen until `stop` is set (a loop of the process's runtime, so `/readyz` sees it);
        a lost Redis connection is resubscribed inside, so it only ends when told."""
        listening = asyncio.create_task(self._listen(), name="live-transfers-listen")
        try:
            await stop.wait()
        finally:
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening

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
        listeners = self._listeners.get(transfer_id)
        if not listeners:
            return
        typed = _typed(view)
        if typed is None:
            logger.warning("live notice on %s is not a transfer: ignored", name)
            return
        for queue in listeners:
            queue.put_nowait(typed)

    # ------------------------------------------------------------ use

    def finished(self, transfer_id: str) -> TransferPublic | None:
        """The terminal view of a transfer heard lately, if any."""
        view = self._finished.get(transfer_id)
        return _typed(view) if view is not None else None

    @contextlib.contextmanager
    def listen(self, transfer_id: str) -> Iterator[asyncio.Queue[TransferPublic]]:
        """A queue of the transfer's notices while the `with` block lasts."""
        queue: asyncio.Queue[TransferPublic] = asyncio.Queue()
        self._listeners.setdefault(transfer_id, set()).add(queue)
        try:
            yield queue
        finally:
            listeners = self._listeners.get(transfer_id)
            if listeners is not None:
                listeners.discard(queue)
                if not listeners:
                    del self._listeners[transfer_id]

    async def terminal(self, transfer_id: str, seconds: float) -> TransferPublic | None:
        """The transfer's terminal view if its notice arrives within `seconds`, else None."""
        with self.listen(transfer_id) as queue:
            known = self.finished(transfer_id)
            if known is not None:
                return known
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    while True:
                        view = await queue.get()
                        if view.status in TERMINAL:
                            return view
        return None


def _typed(view: dict[str, Any]) -> TransferPublic | None:
    try:
        return TransferPublic.model_validate(view)
    except ValidationError:
        return None
