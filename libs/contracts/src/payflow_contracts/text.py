"""Text a document store can hold: what a JSON body may carry but MongoDB (BSON) cannot.

JSON may spell an unpaired UTF-16 surrogate (`"\\ud800"`), which Python decodes into a `str`
that UTF-8 cannot encode, and a field name may hold a NUL, which BSON refuses. Either one reaching
a store (or the JSON encoder of an internal call) was a 5xx. Pydantic refuses unpaired surrogates
in plain `str` fields but not in the keys and values of a `dict[str, str]`, so map fields use these
types.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def unicode_text(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be Unicode text (it holds an unpaired surrogate)") from None
    return value


def field_name(value: str) -> str:
    """A map key that becomes a document field name: Unicode text without NUL, `$` or `.`
    (`$` starts an operator and `.` walks into a sub-document)."""
    unicode_text(value)
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    if "$" in value or "." in value:
        raise ValueError("must not contain '$' or '.'")
    return value


UnicodeText = Annotated[str, AfterValidator(unicode_text)]
FieldName = Annotated[str, AfterValidator(field_name)]
