"""Opaque list cursors: the (created_at, id) position of the last item, newest first."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")


class InvalidCursor(ValueError):
    """The cursor was not made by this service."""


def encode_cursor(created_at: datetime, item_id: str) -> str:
    raw = f"{created_at.isoformat()}|{item_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, item_id = base64.urlsafe_b64decode(padded).decode().split("|", 1)
        moment = datetime.fromisoformat(created)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor("the cursor is not valid") from exc
    if moment.tzinfo is None:
        raise InvalidCursor("the cursor is not valid")
    return moment, item_id


def after_cursor_clause(cursor: str | None) -> dict[str, Any] | None:
    """The Mongo filter for items strictly older than the cursor position."""
    if not cursor:
        return None
    created, item_id = decode_cursor(cursor)
    return {
        "$or": [
            {"created_at": {"$lt": created}},
            {"created_at": created, "_id": {"$lt": item_id}},
        ]
    }


def page_in_memory(
    items: list[T], key: Callable[[T], tuple[datetime, str]], limit: int, cursor: str | None
) -> tuple[list[T], str | None]:
    """Newest-first paging over a list, for the in-memory twins."""
    ordered = sorted(items, key=key, reverse=True)
    if cursor:
        position = decode_cursor(cursor)
        ordered = [i for i in ordered if key(i) < position]
    next_cursor = encode_cursor(*key(ordered[limit - 1])) if len(ordered) > limit else None
    return ordered[:limit], next_cursor
