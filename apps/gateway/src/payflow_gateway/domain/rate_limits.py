"""Rate limits as the public API applies them: which budget a request draws on, how a client is
told where it stands (IETF `RateLimit` / `RateLimit-Policy` header fields, structured-field
form), and how long a login stays locked after repeated failures."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum


class RequestClass(StrEnum):
    AUTH = "auth"
    """Login, registration, refresh, logout: per client address (login also per email)."""
    MONEY = "money"
    """Requests that move money: transfers, top-ups, refunds, payment-link payments."""
    READS = "reads"
    """Everything else under /v1: reads, and writes that move no money."""


AUTH_PATHS = frozenset(
    {"/v1/auth/login", "/v1/auth/register", "/v1/auth/refresh", "/v1/auth/logout"}
)
_MONEY_PATH = re.compile(
    r"/v1/transfers|/v1/transfers/[^/]+/refund|/v1/wallets/[^/]+/top-ups"
    r"|/v1/payment-links/[^/]+/pay"
)


def classify(method: str, path: str) -> RequestClass | None:
    """The budget a request draws on; None for what is not rate limited (health, metrics, docs)."""
    if path.startswith("/pay/"):
        return RequestClass.READS  # the public pay pages: per client address
    if not path.startswith("/v1/"):
        return None
    if method == "POST" and path in AUTH_PATHS:
        return RequestClass.AUTH
    if method == "POST" and _MONEY_PATH.fullmatch(path):
        return RequestClass.MONEY
    return RequestClass.READS


@dataclass(frozen=True)
class Budget:
    """`quota` requests per `window_s` seconds, for one kind of key (`ip`, `user`, `email`)."""

    request_class: str
    key_kind: str
    quota: int
    window_s: int

    @property
    def name(self) -> str:
        return f"{self.request_class}-{self.key_kind}-{self.window_s}s"


@dataclass(frozen=True)
class Standing:
    """Where one key stands against one budget after a request."""

    budget: Budget
    allowed: bool
    remaining: int
    reset_in_s: int


def policy_header(budgets: list[Budget]) -> str:
    """`RateLimit-Policy`: every budget the request drew on, `q` requests per `w` seconds."""
    return ", ".join(f'"{b.name}";q={b.quota};w={b.window_s}' for b in budgets)


def tightest(standings: list[Standing]) -> Standing:
    """The standing a client must mind first: a refusal, else the least remaining."""
    return min(standings, key=lambda s: (s.allowed, s.remaining, -s.reset_in_s))


def ratelimit_header(standings: list[Standing]) -> str:
    """`RateLimit`: the tightest standing, `r` requests left, full again in `t` seconds."""
    s = tightest(standings)
    return f'"{s.budget.name}";r={s.remaining};t={s.reset_in_s}'


def retry_after_s(standings: list[Standing]) -> int:
    """Seconds until every refusing budget lets a request through again (at least 1)."""
    return max([1, *(s.reset_in_s for s in standings if not s.allowed)])


def whole_seconds(seconds: float) -> int:
    return max(0, math.ceil(seconds))


@dataclass(frozen=True)
class LockoutPolicy:
    """After `after_failures` failed logins in a row, each further failure locks the login for
    `base_s` doubling with every failure, never longer than `max_s`; failures are forgotten
    `forget_after_s` after the last one, and at the first success."""

    after_failures: int
    base_s: float
    max_s: float
    forget_after_s: float

    def lock_s(self, failures: int) -> float:
        if failures < self.after_failures:
            return 0.0
        return float(min(self.max_s, self.base_s * 2 ** (failures - self.after_failures)))
