"""Small wallet rules: status changes, sandbox faults, list cursors."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from payflow_contracts.clock import utc_now
from payflow_contracts.faults import FaultAction, fault_action
from payflow_contracts.paging import InvalidCursor, PagePosition, decode_cursor, encode_cursor
from payflow_wallet.domain.errors import WalletClosed
from payflow_wallet.domain.wallet import WalletStatus, open_wallet, with_status

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_new_wallet_is_active_and_empty() -> None:
    wallet = open_wallet("wal_1", "usr_1", "EUR", T0)
    assert (wallet.status, wallet.balance, dict(wallet.marks)) == (WalletStatus.ACTIVE, 0, {})


def test_freezing_and_unfreezing_move_the_status_but_a_closed_wallet_stays_closed() -> None:
    wallet = open_wallet("wal_1", "usr_1", "EUR", T0)
    frozen = with_status(wallet, WalletStatus.FROZEN, T0)
    assert frozen.status is WalletStatus.FROZEN and frozen.version == 1
    assert with_status(frozen, WalletStatus.ACTIVE, T0).status is WalletStatus.ACTIVE
    closed = replace(wallet, status=WalletStatus.CLOSED)
    with pytest.raises(WalletClosed):
        with_status(closed, WalletStatus.ACTIVE, T0)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (None, FaultAction.NONE),
        ("reject", FaultAction.REJECT),
        ("error", FaultAction.RAISE),
        ("timeout", FaultAction.IGNORE_COMMAND),
    ],
)
def test_outside_production_a_forward_step_honours_its_fault(
    mode: str | None, expected: FaultAction
) -> None:
    assert fault_action(mode, enabled=True, compensation=False) is expected


@pytest.mark.parametrize("mode", ["reject", "error", "timeout"])
def test_production_and_compensations_ignore_faults(mode: str) -> None:
    assert fault_action(mode, enabled=False, compensation=False) is FaultAction.NONE
    assert fault_action(mode, enabled=True, compensation=True) is FaultAction.NONE


def test_an_unknown_fault_mode_is_refused_loudly() -> None:
    with pytest.raises(ValueError, match="unknown fault mode"):
        fault_action("explode", enabled=True, compensation=False)


def test_a_cursor_round_trips_its_position_and_timestamps_keep_millisecond_precision() -> None:
    now = utc_now()
    assert now.microsecond % 1000 == 0
    position = PagePosition(now, "wal_abc")
    assert decode_cursor(encode_cursor(position)) == position


def test_positions_order_by_time_then_id_as_their_keys_do() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    positions = [
        PagePosition(t, "wal_b"),
        PagePosition(t.replace(microsecond=1000), "wal_a"),
        PagePosition(t, "wal_a"),
        PagePosition(t.replace(second=1), "wal_0"),
    ]
    assert sorted(positions) == sorted(positions, key=lambda p: p.key)
    assert all(PagePosition.of_key(p.key) == p for p in positions)


@pytest.mark.parametrize("cursor", ["", "!!!", "bm90LWEtY3Vyc29y", "MjAyNi0wMS0wMXx3YWw", "MTIzfA"])
def test_a_tampered_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor)
