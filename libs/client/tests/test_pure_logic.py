"""The client's pure logic, without a server: backoff, Retry-After, the SSE decoder, the error
tree's lookup, paging, money display."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from payflow_client import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    IdempotencyKeyInUseError,
    IdempotencyKeyReusedError,
    NotFoundError,
    Page,
    Pager,
    RateLimitedError,
    ServerError,
    ServiceUnavailableError,
    ValidationError,
    format_money,
)
from payflow_client._core import Call, RetryPolicy, parse_retry_after, prefer_wait
from payflow_client.errors import api_error
from payflow_client.sse import SSEDecoder


def test_backoff_doubles_up_to_its_ceiling_with_jitter_and_never_waits_zero() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    assert [policy.delay(n, rand=lambda: 1.0) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert [policy.delay(n, rand=lambda: 0.0) for n in (1, 2, 3)] == [0.25, 0.5, 1.0]


def test_retry_after_wins_when_longer_and_is_bounded() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0, max_retry_after=30)
    assert policy.delay(1, retry_after=3, rand=lambda: 1.0) == 3
    assert policy.delay(3, retry_after=0.1, rand=lambda: 1.0) == 2.0
    assert policy.delay(1, retry_after=3600, rand=lambda: 1.0) == 30


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=7), usegmt=True), now) == 7.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=7), usegmt=True), now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_a_money_call_gets_one_key_that_every_retry_reuses() -> None:
    call = Call("POST", "/v1/transfers", money=True)
    fixed = call.with_key()
    assert fixed.idempotency_key and len(fixed.idempotency_key) == 36
    assert fixed.with_key() is fixed
    assert (
        Call("POST", "/v1/transfers", money=True, idempotency_key="mine").with_key().idempotency_key
        == "mine"
    )
    assert Call("GET", "/v1/wallets").with_key().idempotency_key is None


def test_prefer_wait_header() -> None:
    assert prefer_wait(5) == {"Prefer": "wait=5"}
    assert prefer_wait(2.5) == {"Prefer": "wait=2.5"}
    assert prefer_wait(None) == {} == prefer_wait(0)


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (404, "wallet_not_found", NotFoundError),
        (404, "fault_rule_not_found", NotFoundError),
        (422, "transfer_not_refundable", ValidationError),
        (422, "idempotency_key_reused", IdempotencyKeyReusedError),
        (409, "idempotency_key_in_use", IdempotencyKeyInUseError),
        (409, "wallet_closed", ConflictError),
        (400, "idempotency_key_missing", BadRequestError),
        (401, "invalid_token", AuthenticationError),
        (429, "rate_limited", RateLimitedError),
        (503, "service_unavailable", ServiceUnavailableError),
        (500, "internal_error", ServerError),
        (418, "teapot", APIError),
    ],
)
def test_the_error_class_comes_from_the_problem_code(status: int, code: str, cls: type) -> None:
    error = api_error(
        status, {"type": "t", "title": "x", "status": status, "detail": "d", "code": code}
    )
    assert type(error) is cls
    assert (error.status, error.code, error.detail) == (status, code, "d")


def test_an_answer_that_is_not_a_problem_document_still_has_a_code() -> None:
    error = api_error(502, "<html>bad gateway</html>", "Bad Gateway")
    assert isinstance(error, ServerError)
    assert error.code == "bad_gateway" and "bad gateway" in error.detail


def test_the_sse_decoder_follows_the_event_stream_format() -> None:
    decoder = SSEDecoder()
    lines = [": ping", "event: transfer", 'data: {"a":', "data: 1}", "id: 7", "", "", "data: x", ""]
    events = [e for e in (decoder.feed(line) for line in lines) if e is not None]
    assert [(e.event, e.data, e.id) for e in events] == [
        ("transfer", '{"a":\n1}', "7"),
        ("message", "x", None),
    ]
    assert decoder.last_event_id == "7"


def test_the_pager_fetches_pages_lazily_until_the_last() -> None:
    pages: dict[str | None, Page[int]] = {
        None: Page(data=[1, 2], next_cursor="a"),
        "a": Page(data=[3], next_cursor=None),
    }
    asked: list[str | None] = []

    def fetch(cursor: str | None) -> Page[int]:
        asked.append(cursor)
        return pages[cursor]

    assert list(Pager(fetch)) == [1, 2, 3]
    assert asked == [None, "a"]
    asked.clear()
    assert list(Pager(fetch, limit=2)) == [1, 2]
    assert asked == [None]


def test_money_is_shown_from_integer_minor_units() -> None:
    assert format_money(1250, "USD") == "12.50 USD"
    assert format_money(5, "EUR") == "0.05 EUR"
    assert format_money(-123456, "USD") == "-1,234.56 USD"
    assert format_money(1500, "JPY") == "1,500 JPY"


def test_which_answers_are_retried() -> None:
    import httpx

    from payflow_client._core import should_retry_status, should_retry_transport

    def answer(status: int) -> httpx.Response:
        return httpx.Response(status, request=httpx.Request("POST", "http://x"))

    money = Call("POST", "/v1/transfers", money=True).with_key()
    create_endpoint = Call("POST", "/v1/webhook-endpoints")
    listing = Call("GET", "/v1/wallets")
    in_use = {"code": "idempotency_key_in_use"}
    assert should_retry_status(money, answer(503), None)
    assert should_retry_status(listing, answer(503), None)
    assert not should_retry_status(create_endpoint, answer(503), None)
    assert all(should_retry_status(c, answer(429), None) for c in (money, create_endpoint, listing))
    assert should_retry_status(money, answer(409), in_use)
    assert not should_retry_status(create_endpoint, answer(409), in_use)
    assert not should_retry_status(money, answer(422), {"code": "idempotency_key_reused"})
    request = httpx.Request("POST", "http://x")
    lost = httpx.ReadError("dropped", request=request)
    refused = httpx.ConnectError("refused", request=request)
    assert should_retry_transport(money, lost) and should_retry_transport(listing, lost)
    assert not should_retry_transport(create_endpoint, lost)
    assert should_retry_transport(create_endpoint, refused)
