"""Which budget a request draws on, the IETF RateLimit fields, and the login lock's backoff."""

from __future__ import annotations

import pytest

from payflow_gateway.domain.rate_limits import (
    Budget,
    LockoutPolicy,
    RequestClass,
    Standing,
    classify,
    policy_header,
    ratelimit_header,
    retry_after_s,
)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/v1/auth/login", RequestClass.AUTH),
        ("POST", "/v1/auth/register", RequestClass.AUTH),
        ("POST", "/v1/auth/refresh", RequestClass.AUTH),
        ("POST", "/v1/auth/logout", RequestClass.AUTH),
        ("GET", "/v1/auth/me", RequestClass.READS),
        ("POST", "/v1/transfers", RequestClass.MONEY),
        ("POST", "/v1/transfers/tr_0a/refund", RequestClass.MONEY),
        ("POST", "/v1/wallets/wal_0a/top-ups", RequestClass.MONEY),
        ("GET", "/v1/transfers", RequestClass.READS),
        ("GET", "/v1/transfers/tr_0a", RequestClass.READS),
        ("POST", "/v1/wallets", RequestClass.READS),
        ("POST", "/v1/wallets/wal_0a/freeze", RequestClass.READS),
        ("POST", "/v1/webhook-endpoints", RequestClass.READS),
        ("GET", "/healthz", None),
        ("GET", "/metrics", None),
        ("GET", "/openapi.json", None),
    ],
)
def test_each_request_draws_on_its_class_of_budget(
    method: str, path: str, expected: RequestClass | None
) -> None:
    assert classify(method, path) is expected


IP = Budget("reads", "ip", 600, 60)
USER = Budget("reads", "user", 100, 60)


def test_the_policy_field_lists_every_budget_drawn_on() -> None:
    assert policy_header([IP, USER]) == '"reads-ip-60s";q=600;w=60, "reads-user-60s";q=100;w=60'


def test_the_ratelimit_field_tells_the_tightest_standing() -> None:
    standings = [Standing(IP, True, 590, 60), Standing(USER, True, 7, 40)]
    assert ratelimit_header(standings) == '"reads-user-60s";r=7;t=40'
    refused = [Standing(IP, False, 0, 12), Standing(USER, True, 3, 40)]
    assert ratelimit_header(refused) == '"reads-ip-60s";r=0;t=12'
    assert retry_after_s(refused) == 12
    assert retry_after_s([Standing(IP, False, 0, 0)]) == 1


def test_the_login_lock_doubles_with_each_failure_up_to_its_ceiling() -> None:
    policy = LockoutPolicy(after_failures=5, base_s=1, max_s=900, forget_after_s=900)
    assert [policy.lock_s(n) for n in range(1, 10)] == [0, 0, 0, 0, 1, 2, 4, 8, 16]
    assert policy.lock_s(30) == 900
