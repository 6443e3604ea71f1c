"""The body cap as ASGI sees it: a body over the cap is refused without being read, whether its
size is declared or it streams in chunks; the application never sees more than the cap."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from payflow_gateway.body_limit import BodyLimitMiddleware

CAP = 64 * 1024
CHUNK = 64 * 1024
STREAMED = 5 * 1024 * 1024  # 80 chunks


class ReadingApp:
    """Reads the whole body, as a JSON route does, then answers 200."""

    def __init__(self) -> None:
        self.received = 0
        self.disconnected = False
        self.answered = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.disconnected = True
                break
            self.received += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        self.answered = True
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


class Client:
    """The server side of one request: hands out the body chunk by chunk, records the answer."""

    def __init__(self, total: int, declared: int | None = None) -> None:
        self.total = total
        self.declared = declared
        self.pulled = 0
        self.sent: list[Message] = []

    @property
    def scope(self) -> Scope:
        headers = [(b"content-type", b"application/json")]
        if self.declared is not None:
            headers.append((b"content-length", str(self.declared).encode()))
        else:
            headers.append((b"transfer-encoding", b"chunked"))
        return {"type": "http", "method": "POST", "path": "/v1/transfers", "headers": headers}

    async def receive(self) -> Message:
        size = min(CHUNK, self.total - self.pulled)
        self.pulled += size
        return {"type": "http.request", "body": b"x" * size, "more_body": self.pulled < self.total}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        starts = [m for m in self.sent if m["type"] == "http.response.start"]
        assert len(starts) == 1, self.sent
        return int(starts[0]["status"])

    @property
    def headers(self) -> dict[str, str]:
        start = next(m for m in self.sent if m["type"] == "http.response.start")
        return {k.decode(): v.decode() for k, v in start["headers"]}

    @property
    def body(self) -> Any:
        return json.loads(b"".join(m.get("body", b"") for m in self.sent[1:]))


async def test_a_streamed_body_is_cut_off_just_past_the_cap_and_answered_413() -> None:
    app, client = ReadingApp(), Client(STREAMED)
    await BodyLimitMiddleware(app, max_bytes=CAP)(client.scope, client.receive, client.send)
    assert client.status == 413
    assert client.headers["content-type"] == "application/problem+json"
    assert client.body["code"] == "payload_too_large"
    # One chunk past the cap was read from the client, none of it reached the application,
    # and the application's own answer was dropped.
    assert client.pulled <= CAP + CHUNK < STREAMED
    assert app.received <= CAP
    assert app.disconnected


async def test_a_declared_length_over_the_cap_is_refused_before_any_byte_is_read() -> None:
    app, client = ReadingApp(), Client(1024 * 1024, declared=1024 * 1024)
    await BodyLimitMiddleware(app, max_bytes=CAP)(client.scope, client.receive, client.send)
    assert client.status == 413
    assert client.body["code"] == "payload_too_large"
    assert client.pulled == 0
    assert not app.answered


async def test_a_body_at_the_cap_reaches_the_application_whole() -> None:
    for declared in (CAP, None):
        app, client = ReadingApp(), Client(CAP, declared=declared)
        await BodyLimitMiddleware(app, max_bytes=CAP)(client.scope, client.receive, client.send)
        assert client.status == 200
        assert app.received == CAP
