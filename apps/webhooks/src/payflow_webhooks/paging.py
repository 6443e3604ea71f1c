"""Newest-first list paging helpers on a `position` string (see `payflow_contracts.paging`),
for the Mongo stores and their in-memory twins."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from payflow_contracts import paging
from payflow_contracts.paging import InvalidCursor, position_of

T = TypeVar("T")

__all__ = [
    "InvalidCursor",
    "before_cursor",
    "decode_cursor",
    "encode_cursor",
    "next_cursor_of",
    "page_in_memory",
    "position_of",
]


def encode_cursor(position: str) -> str:
    return paging.encode_cursor(paging.PagePosition.of_key(position))


def decode_cursor(cursor: str) -> str:
    return paging.decode_cursor(cursor).key


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
