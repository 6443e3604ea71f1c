"""Opaque, type-prefixed identifiers (`usr_`, `wal_`, `tr_`, `evt_`, ...)."""

from __future__ import annotations

import secrets
import time

PREFIXES = frozenset(
    {"usr", "wal", "tr", "evt", "we", "del", "key", "msg", "jtx", "acc", "flt", "rt", "pl"}
)


def new_id(prefix: str) -> str:
    """A new id: the prefix, then 8 hex chars of time (rough ordering) and 16 of randomness."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    return f"{prefix}_{int(time.time()) & 0xFFFFFFFF:08x}{secrets.token_hex(8)}"
