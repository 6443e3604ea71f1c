"""A failover TCP balancer in front of a service's replicas, as a Kubernetes Service would be.

The gateway knows one URL per internal service; with several replicas that URL is a balancer:
each new connection goes to the next replica that answered `/readyz` (checked every half
second), or, when none did (a store is down and every replica says so), to the next replica that
accepts a connection at all. A connection stays with its replica until one side closes it, so a
replica killed mid-request breaks that request, exactly as a real pod's death would.

All balancers of a run share one thread with its own event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

CONNECT_TIMEOUT_S = 1.0
HEALTH_INTERVAL_S = 0.5
HEALTH_TIMEOUT_S = 1.0


@dataclass
class Backend:
    port: int
    ready: bool = False


@dataclass
class _Balancer:
    name: str
    backends: list[Backend]
    port: int = 0
    server: asyncio.base_events.Server | None = None
    turn: itertools.count[int] = field(default_factory=itertools.count)
    connections: int = 0
    failovers: int = 0

    def order(self) -> list[Backend]:
        start = next(self.turn) % len(self.backends)
        ring = self.backends[start:] + self.backends[:start]
        return [b for b in ring if b.ready] + [b for b in ring if not b.ready]


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _probe(port: int) -> bool:
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_S):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(b"GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                await writer.drain()
                status_line = await reader.readline()
            finally:
                writer.close()
        return status_line.split(b" ")[1:2] == [b"200"]
    except (TimeoutError, OSError, IndexError):
        return False


class Balancers:
    """One balancer per service name, each on its own loopback port, in a background thread."""

    def __init__(self, services: dict[str, Sequence[int]]) -> None:
        self._balancers = {
            name: _Balancer(name, [Backend(p) for p in ports]) for name, ports in services.items()
        }
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._stopping: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self._balancers[service].port}"

    def stats(self) -> dict[str, dict[str, int]]:
        return {
            name: {"connections": b.connections, "failovers": b.failovers}
            for name, b in self._balancers.items()
        }

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _start(self) -> None:
        self._stopping = asyncio.Event()
        for balancer in self._balancers.values():
            balancer.server = await asyncio.start_server(
                functools.partial(self._serve, balancer), "127.0.0.1", 0
            )
            balancer.port = int(balancer.server.sockets[0].getsockname()[1])
            self._tasks.append(asyncio.create_task(self._watch(balancer)))

    async def _stop(self) -> None:
        assert self._stopping is not None
        self._stopping.set()
        for balancer in self._balancers.values():
            if balancer.server is not None:
                balancer.server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _watch(self, balancer: _Balancer) -> None:
        assert self._stopping is not None
        while not self._stopping.is_set():
            results = await asyncio.gather(*(_probe(b.port) for b in balancer.backends))
            for backend, ready in zip(balancer.backends, results, strict=True):
                backend.ready = ready
            await asyncio.sleep(HEALTH_INTERVAL_S)

    async def _serve(
        self,
        balancer: _Balancer,
        client_reader: asyncio.StreamReader,
        client_writer: asyncio.StreamWriter,
    ) -> None:
        balancer.connections += 1
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        for attempt, backend in enumerate(balancer.order()):
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    upstream = await asyncio.open_connection("127.0.0.1", backend.port)
            except (TimeoutError, OSError):
                continue
            if attempt:
                balancer.failovers += 1
            break
        if upstream is None:
            client_writer.close()
            return
        up_reader, up_writer = upstream
        await asyncio.gather(_pipe(client_reader, up_writer), _pipe(up_reader, client_writer))
