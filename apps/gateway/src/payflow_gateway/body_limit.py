"""A cap on request bodies, enforced before they are read (ASGI middleware).

A body whose `Content-Length` is over the cap is refused before a byte of it is read; a body
without one (chunked) is counted as the application pulls it, and refused as soon as it passes the
cap. Either way the client gets 413 `payload_too_large` at once, while it may still be sending, and
the application never sees more than the cap: to it the client has gone.

The connection is not closed under the client: a close with unread bytes makes the kernel send a
reset, which often destroys the 413 before the client reads it (RFC 9112 section 9.6). The server
discards whatever the client still sends, as it arrives (never buffered), then the connection
serves the next request.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from payflow_service import problem_response

logger = logging.getLogger(__name__)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return

        received = 0
        answered = False  # by us: the application's own answer is dropped from then on
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    if not response_started:
                        answered = True
                        await self._refuse(scope, receive, send)
                    # To the application the client has gone: it stops reading and answering.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if answered:
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        await self.app(scope, counting_receive, guarded_send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        logger.info("request body over %s bytes refused", self.max_bytes)
        response = problem_response(
            413,
            "payload_too_large",
            f"The request body is larger than {self.max_bytes} bytes.",
        )
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or []:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
