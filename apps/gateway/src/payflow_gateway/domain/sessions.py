"""How a presented refresh token is judged, from what the token store says about it.

A refresh token is single-use: spending it is a compare-and-set from `active` to `spent`.
A spent token that comes back means it was copied, so its whole family is revoked for reuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class RefreshStatus(StrEnum):
    ACTIVE = "active"
    SPENT = "spent"
    REVOKED = "revoked"


class FamilyRevocation(StrEnum):
    REUSE = "reuse"
    LOGOUT = "logout"


class RefreshVerdict(StrEnum):
    ROTATE = "rotate"
    REUSED = "token_reused"
    INVALID = "invalid_token"


def judge_refresh(
    spent_now: bool, status_after: RefreshStatus | None, family: FamilyRevocation | None
) -> RefreshVerdict:
    """`spent_now`: this request won the `active` -> `spent` swap; `status_after`: the token's
    status when it did not (None: unknown or expired); `family`: the family's revocation, if any."""
    if family is FamilyRevocation.REUSE:
        return RefreshVerdict.REUSED
    if family is FamilyRevocation.LOGOUT:
        return RefreshVerdict.INVALID
    if spent_now:
        return RefreshVerdict.ROTATE
    if status_after is RefreshStatus.SPENT:
        return RefreshVerdict.REUSED
    return RefreshVerdict.INVALID


@dataclass(frozen=True)
class IssuedRefreshToken:
    token_id: str
    family_id: str
    user_id: str
    issued_at: datetime
    expires_at: datetime
