"""Opaque list cursors: the (created_at, id) position of the last item of a page, base64url."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True)
class PagePosition:
    created_at: datetime
    id: str


def encode_cursor(position: PagePosition) -> str:
    raw = f"{position.created_at.isoformat()}|{position.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> PagePosition:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, item_id = base64.urlsafe_b64decode(padded.encode()).decode().split("|", 1)
        created_at = datetime.fromisoformat(created)
    except (ValueError, UnicodeError) as exc:
        raise InvalidCursor("the cursor is not valid") from exc
    if created_at.tzinfo is None or not item_id:
        raise InvalidCursor("the cursor is not valid")
    return PagePosition(created_at, item_id)
