"""List cursors: what a service made decodes back; anything else is an `InvalidCursor`, never a
crash, however absurd the position it claims."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from payflow_contracts.paging import InvalidCursor, PagePosition, decode_cursor, encode_cursor


def cursor_of(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def test_a_cursor_decodes_to_the_position_it_was_made_from() -> None:
    position = PagePosition(datetime.now(UTC).replace(microsecond=0), "tr_0123abcd")
    assert decode_cursor(encode_cursor(position)) == position


@pytest.mark.parametrize(
    "cursor",
    [
        cursor_of("9" * 15 + "|tr_x"),  # year 33658: past datetime's range
        cursor_of("9" * 40 + "|tr_x"),  # past timedelta's range
        cursor_of("-1|tr_x"),
        cursor_of("123|"),
        cursor_of("no separator"),
        "%%%not base64%%%",
        "",
    ],
)
def test_a_cursor_naming_an_absurd_or_no_position_is_invalid(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor)


def test_an_id_order_cursor_round_trips_and_refuses_what_it_did_not_make() -> None:
    from payflow_contracts.paging import decode_id_cursor, encode_id_cursor

    for item_id in ("key_01JDX8", "usr_a|b", "ü"):
        assert decode_id_cursor(encode_id_cursor(item_id)) == item_id
    position_cursor = encode_cursor(PagePosition(datetime(2026, 1, 1, tzinfo=UTC), "x"))
    for foreign in ("usr_123", "", "!!!", position_cursor, encode_id_cursor("x")[:-2]):
        with pytest.raises(InvalidCursor):
            decode_id_cursor(foreign)
