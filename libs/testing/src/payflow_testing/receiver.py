"""A real webhook receiver on 127.0.0.1 for tests: answers each path from a script of replies
(then 200) and records every request it got."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class ScriptedReply:
    status: int = 200
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    hold: threading.Event | None = None
    """When set, the answer waits until the test sets this event (at most a minute)."""


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    """time.monotonic() when the request arrived."""


class _Server(ThreadingHTTPServer):
    # listen() backlog: the default of 5 overflows when a worker sends 20 deliveries at once, and
    # the overflow shows up as reset connections or 1 s SYN retransmits, not as the sender's cost.
    request_queue_size = 128


class Receiver:
    """A webhook receiver: answers each path from a script of replies (then 200), records all."""

    Reply: type[ScriptedReply]

    def __init__(self, keep_alive: bool = False) -> None:
        """`keep_alive`: answer in HTTP/1.1 and keep the connection open for the next request,
        as production receivers do (the bench); by default one connection per request."""
        self.requests: list[Received] = []
        self._scripts: dict[str, list[ScriptedReply]] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests.append(
                        Received(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            time.monotonic(),
                        )
                    )
                    script = receiver._scripts.get(self.path) or []
                    reply = script.pop(0) if script else ScriptedReply()
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if reply.hold is not None:
                    reply.hold.wait(timeout=60)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:  # the sender went away (a killed worker, a timeout)
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, *replies: ScriptedReply) -> None:
        with self._lock:
            self._scripts[path] = list(replies)

    def received(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    async def wait_for(self, path: str, count: int, timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.received(path)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.05)
        raise AssertionError(f"{path}: {len(self.received(path))} requests, expected {count}")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


Receiver.Reply = ScriptedReply
Reply = ScriptedReply
