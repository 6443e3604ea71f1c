"""`payflow webhooks listen`: a local receiver on 127.0.0.1 that verifies each delivery and
forwards it, body and signature headers unchanged, to a local URL."""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from payflow_client.errors import WebhookVerificationError
from payflow_client.models import Event
from payflow_client.webhooks import verify

FORWARDED_HEADERS = ("content-type", "webhook-id", "webhook-timestamp", "webhook-signature")


@dataclass(frozen=True)
class Received:
    event: Event | None
    error: str | None
    forwarded_status: int | None = None
    forward_error: str | None = None


class WebhookListener:
    """Receives deliveries on 127.0.0.1:<port> (0: any free port); each verified one is put on
    `received` and forwarded. Answers the sender with the forward target's status (200 without
    a target), 400 for a delivery that does not verify."""

    def __init__(self, port: int = 0, forward_to: str | None = None) -> None:
        self.secrets: list[str] = []
        self.forward_to = forward_to
        self.received: queue.Queue[Received] = queue.Queue()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, record = listener.handle(body, headers)
                listener.received.put(record)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/webhooks"

    def use_secrets(self, secrets: Sequence[str]) -> None:
        self.secrets = list(secrets)

    def handle(self, body: bytes, headers: dict[str, str]) -> tuple[int, Received]:
        if not self.secrets:
            return 503, Received(None, "no signing secret yet")
        try:
            event = verify(body, headers, self.secrets)
        except WebhookVerificationError as exc:
            return 400, Received(None, str(exc))
        if not self.forward_to:
            return 200, Received(event, None)
        try:
            answer = httpx.post(
                self.forward_to,
                content=body,
                headers={k: headers[k] for k in FORWARDED_HEADERS if k in headers},
                timeout=10,
            )
        except httpx.HTTPError as exc:
            return 502, Received(event, None, None, repr(exc))
        return answer.status_code, Received(event, None, answer.status_code)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
