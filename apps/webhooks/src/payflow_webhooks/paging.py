"""Newest-first list paging on a `position` string: `<13-digit epoch ms>|<id>`, opaque in cursors.

Paging compares strings, not datetimes: the embedded store compares datetimes at whole seconds
only (measured), which would repeat or skip items created within one second of each other.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")

_POSITION = re.compile(r"^\d{13}\|[A-Za-z0-9_]{1,100}$")


class InvalidCursor(ValueError):
    """The cursor was not made by this service."""


def position_of(created_at: datetime, item_id: str) -> str:
    return f"{int(created_at.timestamp() * 1000):013d}|{item_id}"


def encode_cursor(position: str) -> str:
    return base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = base64.urlsafe_b64decode(padded).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor("the cursor is not valid") from exc
    if not _POSITION.match(position):
        raise InvalidCursor("the cursor is not valid")
    return position


def before_cursor(cursor: str | None) -> dict[str, Any] | None:
    """The Mongo filter for items older than the cursor's position."""
    if not cursor:
        return None
    return {"position": {"$lt": decode_cursor(cursor)}}


def next_cursor_of(items: list[Any], limit: int, position: Callable[[Any], str]) -> str | None:
    """`items` holds up to limit + 1 entries: a cursor exists when there was one more."""
    return encode_cursor(position(items[limit - 1])) if len(items) > limit else None


def page_in_memory(
    items: list[T], key: Callable[[T], str], limit: int, cursor: str | None
) -> tuple[list[T], str | None]:
    """The same paging over a list, for the in-memory twins."""
    ordered = sorted(items, key=key, reverse=True)
    if cursor:
        position = decode_cursor(cursor)
        ordered = [i for i in ordered if key(i) < position]
    return ordered[:limit], next_cursor_of(ordered, limit, key)
