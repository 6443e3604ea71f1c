"""Counts every command a process sends to its document store, for operators and `make bench`.

`payflow_store_commands_total{service, command, origin}` grows by one per command started (find,
insert, update, ...), so the store cost of a transfer is a difference of two scrapes, and a test
can pin how many commands a code path sends. `origin` is `work` (requests, stream handlers) or
`upkeep` (sweepers, pruners, gauges: commands per second of time, not per payment).
"""

from __future__ import annotations

from collections.abc import Awaitable
from contextvars import ContextVar
from typing import TypeVar

from prometheus_client import Counter
from pymongo import monitoring

STORE_COMMANDS = Counter(
    "payflow_store_commands_total",
    "Commands sent to the document store, by service, command name and origin",
    ["service", "command", "origin"],
)

store_origin: ContextVar[str] = ContextVar("payflow_store_origin", default="work")

T = TypeVar("T")


async def as_upkeep(work: Awaitable[T]) -> T:
    """Run a background loop whose store commands count as `upkeep` (the loop's own task)."""
    store_origin.set("upkeep")
    return await work


# Sent by the driver itself (handshakes, heartbeats, session clean-up), not by our code.
DRIVER_COMMANDS = frozenset({"hello", "ismaster", "isMaster", "ping", "endSessions", "buildInfo"})


class StoreCommandCounter(monitoring.CommandListener):
    """A pymongo command listener counting started commands into STORE_COMMANDS."""

    def __init__(self, service: str) -> None:
        self._service = service
        self._children: dict[tuple[str, str], Counter] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        key = (event.command_name, store_origin.get())
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = STORE_COMMANDS.labels(self._service, *key)
        child.inc()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        return None

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        return None
