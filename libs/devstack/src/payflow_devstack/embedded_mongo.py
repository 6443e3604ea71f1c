"""Runs nx-27017 (the embedded MongoDB wire-protocol server) with PayFlow's compatibility shim.

Measured on nx-27017 0.8.1: its SQL fast path for updates stores a top-level datetime written with
`$set` as a string, and `$push`/`$addToSet` of sub-documents as JSON strings. Its Python update
path gets both right. The shim sends exactly those updates down the Python path; everything else
keeps the fast path. The store contract tests (tests/contract) pin the resulting behaviour on the
embedded store and on real MongoDB alike, so a new nx-27017 release that changes it is noticed.
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from typing import Any

_ARRAY_OPERATORS = ("$push", "$addToSet")


def _holds_datetime(value: Any) -> bool:
    if isinstance(value, datetime | date):
        return True
    if isinstance(value, dict):
        return any(_holds_datetime(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_datetime(v) for v in value)
    return False


def _holds_document(value: Any) -> bool:
    if isinstance(value, dict):
        if "$each" in value:
            return any(isinstance(item, dict) for item in value["$each"])
        return True
    return False


def needs_python_path(update_spec: dict[str, Any]) -> bool:
    """True for the update shapes the SQL fast path of nx-27017 stores wrongly."""
    for operator, fields in update_spec.items():
        if not isinstance(fields, dict):
            continue
        if _holds_datetime(fields):
            return True
        if operator in _ARRAY_OPERATORS and any(_holds_document(v) for v in fields.values()):
            return True
    return False


def install_shim() -> None:
    from neosqlite.collection.query_helper._sql_updates import SqlUpdatesMixin

    original = SqlUpdatesMixin._can_use_sql_updates

    def _can_use_sql_updates(
        self: Any, update_spec: dict[str, Any], doc_id: int, original_doc: Any = None
    ) -> bool:
        if needs_python_path(update_spec):
            return False
        return bool(original(self, update_spec, doc_id, original_doc))

    SqlUpdatesMixin._can_use_sql_updates = _can_use_sql_updates


def main(argv: list[str]) -> int:
    install_shim()
    from nx_27017.nx_27017 import main as nx_main

    sys.argv = ["nx-27017", *argv]
    return int(nx_main() or 0)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
