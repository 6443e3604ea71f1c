"""One HTTP attempt of a delivery: vet the address, POST the signed body, keep 1 KB of the answer.

Redirects are never followed (a 3xx is a failed attempt). Under the SSRF guard the connection
goes to the address the guard vetted, with the original `Host` header and TLS server name.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from payflow_contracts.clock import Clock, utc_now
from payflow_webhooks.domain.delivery import RESPONSE_BODY_LIMIT, AttemptResult
from payflow_webhooks.domain.errors import HostUnresolvable, UrlNotAllowed, UrlRejected
from payflow_webhooks.domain.retry_policy import parse_retry_after
from payflow_webhooks.url_guard import UrlGuard


class WebhookSender:
    def __init__(
        self,
        client: httpx.AsyncClient,
        guard: UrlGuard,
        timeout_s: float,
        clock: Clock = utc_now,
    ) -> None:
        self._client = client
        self._guard = guard
        self._timeout_s = timeout_s
        self._clock = clock

    async def send(self, url: str, headers: dict[str, str], body: bytes) -> AttemptResult:
        at = self._clock()
        started = time.perf_counter()

        def elapsed_ms() -> int:
            return int((time.perf_counter() - started) * 1000)

        try:
            target = await self._guard.delivery_target(url)
        except (UrlNotAllowed, UrlRejected) as exc:
            return AttemptResult(
                at=at,
                status_code=None,
                duration_ms=elapsed_ms(),
                error=f"refused: {exc}",
                blocked=True,
            )
        except HostUnresolvable as exc:
            return AttemptResult(at=at, status_code=None, duration_ms=elapsed_ms(), error=str(exc))

        request_url = httpx.URL(url)
        request_headers = dict(headers)
        extensions: dict[str, str] = {}
        if target.pinned_address is not None:
            request_headers["host"] = request_url.netloc.decode("ascii")
            request_url = request_url.copy_with(host=str(target.pinned_address))
            if target.url.scheme == "https":
                extensions["sni_hostname"] = target.url.host
        try:
            async with asyncio.timeout(self._timeout_s):
                async with self._client.stream(
                    "POST",
                    request_url,
                    content=body,
                    headers=request_headers,
                    extensions=extensions,
                    follow_redirects=False,
                ) as response:
                    snippet = await _read_prefix(response, RESPONSE_BODY_LIMIT)
                    return AttemptResult(
                        at=at,
                        status_code=response.status_code,
                        duration_ms=elapsed_ms(),
                        response_body=snippet,
                        retry_after=parse_retry_after(response.headers.get("retry-after"), at),
                    )
        except (TimeoutError, httpx.TimeoutException):
            return AttemptResult(
                at=at,
                status_code=None,
                duration_ms=elapsed_ms(),
                error=f"no answer within {self._timeout_s:g}s",
                timed_out=True,
            )
        except httpx.HTTPError as exc:
            return AttemptResult(
                at=at,
                status_code=None,
                duration_ms=elapsed_ms(),
                error=f"{type(exc).__name__}: {exc}"[:500],
            )


async def _read_prefix(response: httpx.Response, limit: int) -> str:
    """The first `limit` bytes of the answer as text; the rest is never downloaded."""
    kept = bytearray()
    async for chunk in response.aiter_bytes():
        kept.extend(chunk)
        if len(kept) >= limit:
            break
    return bytes(kept[:limit]).decode("utf-8", errors="replace")
