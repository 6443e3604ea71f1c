"""Webhook receivers of a chaos run: real HTTP servers on 127.0.0.1 whose behaviour the fault
schedule changes for a while (answer 500, answer slowly, answer nothing), recording every request
with the status it was answered with."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OK = "ok"
ERROR = "error"
SLOW = "slow"
STALL = "stall"

SLOW_DELAY_S = 1.0
"""How long a slow receiver takes to answer (below the run's webhook timeout)."""


@dataclass(frozen=True)
class Receipt:
    receiver: str
    path: str
    webhook_id: str
    event_id: str
    event_type: str
    transfer_id: str
    status: int | None
    """What the receiver answered; None when it answered nothing (stalled)."""
    at: float
    """time.monotonic() of arrival."""

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _Server(ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True


class ChaosReceiver:
    def __init__(self, name: str, *, steady: bool) -> None:
        self.name = name
        self.steady = steady
        """A steady receiver never gets a fault: every event must reach it."""
        self.mode = OK
        self.receipts: list[Receipt] = []
        self.unreadable = 0
        self._lock = threading.Lock()
        self._healed = threading.Event()
        self._healed.set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                mode = receiver.mode
                if mode == STALL:
                    receiver._healed.wait(timeout=60)
                    receiver._record(self.path, self.headers, body, None)
                    self.close_connection = True
                    return
                if mode == SLOW:
                    time.sleep(SLOW_DELAY_S)
                status = 500 if mode == ERROR else 200
                try:
                    payload = b"fail" if status == 500 else b"ok"
                    self.send_response(status)
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    self.wfile.flush()
                except OSError:  # the sender gave up (its timeout) or died
                    receiver._record(self.path, self.headers, body, None)
                    return
                receiver._record(self.path, self.headers, body, status)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _record(self, path: str, headers: Any, body: bytes, status: int | None) -> None:
        try:
            payload = json.loads(body)
            event_id = str(payload["id"])
            event_type = str(payload["type"])
            transfer_id = str(payload["data"]["id"])
        except (ValueError, KeyError, TypeError):
            with self._lock:
                self.unreadable += 1
            return
        receipt = Receipt(
            receiver=self.name,
            path=path,
            webhook_id=str(headers.get("webhook-id", "")),
            event_id=event_id,
            event_type=event_type,
            transfer_id=transfer_id,
            status=status,
            at=time.monotonic(),
        )
        with self._lock:
            self.receipts.append(receipt)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def set_mode(self, mode: str) -> None:
        if mode == STALL:
            self._healed.clear()
        self.mode = mode
        if mode != STALL:
            self._healed.set()

    def snapshot(self) -> list[Receipt]:
        with self._lock:
            return list(self.receipts)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._healed.set()
        self._server.shutdown()
        self._server.server_close()
