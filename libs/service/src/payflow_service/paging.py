"""The `cursor` query parameter of every list route, decoded once.

Routes take `cursor: Cursor` (or `IdCursor` for a list in id order) and receive the `PagePosition` the cursor stands for (None on the
first page); a cursor this service did not hand out is answered `400 invalid_cursor` before the
route runs. Stores fetch `limit + 1` and `payflow_contracts.paging.cut_page` makes the page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from payflow_contracts.paging import InvalidCursor, PagePosition, decode_cursor, decode_id_cursor
from payflow_service.problems import ProblemError


def invalid_cursor() -> ProblemError:
    return ProblemError(400, "invalid_cursor", "The cursor is not valid.")


async def _cursor(
    cursor: str | None = None,
) -> PagePosition | None:
    if not cursor:
        return None
    try:
        return decode_cursor(cursor)
    except InvalidCursor:
        raise invalid_cursor() from None


async def _id_cursor(cursor: str | None = None) -> str | None:
    if not cursor:
        return None
    try:
        return decode_id_cursor(cursor)
    except InvalidCursor:
        raise invalid_cursor() from None


Cursor = Annotated[PagePosition | None, Depends(_cursor)]
"""A list in (created_at, id) order: the position after which the page starts."""
IdCursor = Annotated[str | None, Depends(_id_cursor)]
"""A list in id order: the id after which the page starts."""
Limit = Annotated[int, Query(ge=1, le=100)]
