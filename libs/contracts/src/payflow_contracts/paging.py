"""Opaque list cursors, shared by every service: over a (created_at, id) order, or over id order.

Stores keep and compare one string, `position` = zero-padded epoch milliseconds, "|", id: it sorts
as (created_at, id), compares exactly, and pages with a single-field range query. The cursor is
that position, base64url-encoded; each service decodes only its own cursors.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
T = TypeVar("T")


class InvalidCursor(ValueError):
    """The cursor was not made by this service."""


@dataclass(frozen=True, order=True)
class PagePosition:
    created_at: datetime
    id: str

    @property
    def key(self) -> str:
        millis = (self.created_at - _EPOCH) // timedelta(milliseconds=1)
        return f"{millis:015d}|{self.id}"

    @classmethod
    def of_key(cls, key: str) -> PagePosition:
        millis, item_id = key.split("|", 1)
        if not millis.isdigit() or not item_id:
            raise ValueError("not a position")
        return cls(_EPOCH + timedelta(milliseconds=int(millis)), item_id)


def encode_cursor(position: PagePosition) -> str:
    return base64.urlsafe_b64encode(position.key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> PagePosition:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return PagePosition.of_key(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeError, OverflowError) as exc:  # overflow: a date past year 9999
        raise InvalidCursor("the cursor is not valid") from exc


def position_of(created_at: datetime, item_id: str) -> str:
    return PagePosition(created_at, item_id).key


_ID_ORDER = "id|"


def encode_id_cursor(item_id: str) -> str:
    """The cursor of a list in id order (API keys, users): the last id of the page."""
    return base64.urlsafe_b64encode((_ID_ORDER + item_id).encode()).decode().rstrip("=")


def decode_id_cursor(cursor: str) -> str:
    """The id an id-order cursor stands for; `InvalidCursor` for one this list did not hand out."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode()).decode()
    except (ValueError, UnicodeError) as exc:
        raise InvalidCursor("the cursor is not valid") from exc
    if not raw.startswith(_ID_ORDER) or len(raw) == len(_ID_ORDER):
        raise InvalidCursor("the cursor is not valid")
    return raw[len(_ID_ORDER) :]


def position_key(cursor: str | None) -> str | None:
    """The stored position a cursor stands for, or None for the first page; `InvalidCursor`
    for a cursor this service did not hand out."""
    return decode_cursor(cursor).key if cursor else None


def cut_page(
    found: Sequence[T], limit: int, position: Callable[[T], PagePosition]
) -> tuple[list[T], str | None]:
    """A page from `found` (a store's answer to `limit + 1`): the first `limit` items, and the
    cursor of the last one when the store had more."""
    page = list(found[:limit])
    more = len(found) > limit and bool(page)
    return page, encode_cursor(position(page[-1])) if more else None
