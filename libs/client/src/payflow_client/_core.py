"""What the sync and async clients share: the description of a call, when to retry and how long
to wait, how a credential is chosen and renewed, and how an answer becomes a model or an error.
Nothing here does I/O; `client.py` and `async_client.py` send the requests."""

from __future__ import annotations

import email.utils
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from payflow_client.errors import APIError, AuthenticationError, api_error

__version__ = "0.1.0"

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
USER_AGENT = f"payflow-client/{__version__}"

M = TypeVar("M", bound=BaseModel)

RETRYABLE_STATUSES = frozenset({429, 503})
"""Answers that mean "not now": nothing happened, the same request may be sent again."""

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE", "PUT"})


@dataclass(frozen=True)
class Call:
    """One API call, before it is sent."""

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    money: bool = False
    """Moves money: sent with an Idempotency-Key and retried (same key) after a lost answer."""
    authenticated: bool = True
    idempotency_key: str | None = None

    def with_key(self) -> Call:
        """The call with its Idempotency-Key fixed (a new uuid4 when the caller gave none): every
        retry must carry the same key, so that the server runs the request at most once."""
        if not self.money or self.idempotency_key:
            return self
        return Call(
            self.method,
            self.path,
            self.params,
            self.json,
            self.headers,
            self.money,
            self.authenticated,
            str(uuid.uuid4()),
        )


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded; a server's Retry-After wins when longer.

    `max_retries` counts the retries after the first attempt."""

    max_retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    """A Retry-After above this is cut to it: one answer may not park the client for ever."""
    key_in_use_patience: float = 40.0
    """How long a money call keeps retrying `409 idempotency_key_in_use` (its own earlier
    attempt still running on the server, e.g. holding a `Prefer: wait`), apart from
    `max_retries`: the server's key lock lasts 30 s by default."""

    def delay(
        self,
        retry: int,
        retry_after: float | None = None,
        rand: Callable[[], float] = random.random,
    ) -> float:
        """Seconds to wait before retry number `retry` (1 for the first retry)."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (retry - 1))
        backoff = ceiling * (0.5 + rand() / 2)  # half fixed, half jitter: never a zero wait
        if retry_after is not None:
            return max(min(retry_after, self.max_retry_after), backoff)
        return backoff


NO_RETRIES = RetryPolicy(max_retries=0)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as delay-seconds or an HTTP date (RFC 9110 10.2.3); None when unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def should_retry_transport(call: Call, exc: httpx.TransportError) -> bool:
    """After no answer: a money call is retried (its key makes a repeat harmless), so is an
    idempotent method, and any call whose connection was never made (nothing was sent)."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return True
    return call.money or call.method.upper() in IDEMPOTENT_METHODS


def should_retry_status(call: Call, response: httpx.Response, body: Any) -> bool:
    """429 means the request was not run: always retried. A 503 may come after part of the
    work (the gateway lost a downstream answer), so it is retried only where a repeat is
    harmless: a money call (its key) or an idempotent method."""
    if response.status_code == 429:
        return True
    if response.status_code in RETRYABLE_STATUSES:
        return call.money or call.method.upper() in IDEMPOTENT_METHODS
    # The first request with this key is still running (ours, whose answer was lost): wait for it.
    return (
        call.money
        and response.status_code == 409
        and isinstance(body, dict)
        and body.get("code") == "idempotency_key_in_use"
    )


class TokenState:
    """The credential of a client: an API key, or an access token with its refresh token.

    Refresh tokens work once (a spent one coming back revokes the whole session), so a renewal
    happens only when the access token that failed is still the current one; callers serialise
    renewals with a lock."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        access_token: str | None = None,
        refresh_token: str | None = None,
        on_tokens: Callable[[str, str], None] | None = None,
    ) -> None:
        if api_key and (access_token or refresh_token):
            raise ValueError("give an API key or tokens, not both")
        self.api_key = api_key
        self.access_token = access_token
        self.refresh_token = refresh_token
        self.on_tokens = on_tokens
        """Called with (access_token, refresh_token) after every login or renewal: the CLI
        stores them."""

    @property
    def bearer(self) -> str | None:
        return self.api_key or self.access_token

    @property
    def can_refresh(self) -> bool:
        return self.api_key is None and bool(self.refresh_token)

    def set_tokens(self, access_token: str, refresh_token: str) -> None:
        self.api_key = None
        self.access_token = access_token
        self.refresh_token = refresh_token
        if self.on_tokens is not None:
            self.on_tokens(access_token, refresh_token)

    def clear(self) -> None:
        self.access_token = None
        self.refresh_token = None


def needs_refresh(error: APIError, tokens: TokenState, sent_bearer: str | None) -> bool:
    """A 401 `invalid_token` (expired, among others) on a request sent with our access token."""
    return (
        isinstance(error, AuthenticationError)
        and error.code == "invalid_token"
        and tokens.can_refresh
        and sent_bearer is not None
        and sent_bearer == tokens.access_token
    )


def build_headers(call: Call, tokens: TokenState) -> dict[str, str]:
    headers = dict(call.headers)
    if call.authenticated and tokens.bearer:
        headers["Authorization"] = f"Bearer {tokens.bearer}"
    if call.money:
        assert call.idempotency_key, "a money call is sent with its key fixed"
        headers["Idempotency-Key"] = call.idempotency_key
    return headers


def prefer_wait(wait: float | None) -> dict[str, str]:
    """`Prefer: wait=N`: the server answers once the transfer is terminal, or after N seconds
    (it caps N at 10) with the transfer as it stands."""
    if wait is None or wait <= 0:
        return {}
    return {"Prefer": f"wait={int(wait) if float(wait).is_integer() else wait}"}


def decode_body(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def error_of(response: httpx.Response, body: Any) -> APIError:
    return api_error(response.status_code, body, response.reason_phrase)


def parse(model: type[M], body: Any) -> M:
    return model.model_validate(body)


def clean_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Query parameters without the unset ones; datetimes as ISO 8601."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        if value is None:
            continue
        out[name] = value.isoformat() if isinstance(value, datetime) else value
    return out
