"""The chaos run's pure parts: the seeded fault schedule and the report's arithmetic."""

from __future__ import annotations

import itertools

from payflow_testing.chaos.invariants import operation_of
from payflow_testing.chaos.report import fault_rows, percentile, table
from payflow_testing.chaos.schedule import (
    KILL,
    MONGO_CRASH,
    PAUSE,
    RECEIVER_FAULTS,
    REDIS_CRASH,
    Plan,
    count_by_kind,
    fault_schedule,
    replica_names,
)

FIVE_MINUTES = Plan(300, 2, 2.0, ("flaky-1", "flaky-2"))


def test_the_same_seed_gives_the_same_schedule_and_another_seed_another() -> None:
    assert fault_schedule(FIVE_MINUTES, 7) == fault_schedule(FIVE_MINUTES, 7)
    assert fault_schedule(FIVE_MINUTES, 7) != fault_schedule(FIVE_MINUTES, 8)


def test_five_minutes_bring_the_kills_and_crashes_the_issue_asks_for() -> None:
    counts = count_by_kind(fault_schedule(FIVE_MINUTES, 1))
    assert counts[KILL] >= 50
    assert counts[REDIS_CRASH] >= 3
    assert counts[MONGO_CRASH] >= 3
    assert counts[PAUSE] >= 1
    assert sum(counts[k] for k in RECEIVER_FAULTS) >= 1


def test_every_fault_ends_before_the_quiet_period_and_store_crashes_never_overlap() -> None:
    for seed in range(20):
        faults = fault_schedule(FIVE_MINUTES, seed)
        assert all(FIVE_MINUTES.starts_after <= f.at for f in faults)
        assert all(f.ends <= FIVE_MINUTES.quiet_after + 1e-6 for f in faults)
        stores = sorted(
            (f for f in faults if f.kind in (REDIS_CRASH, MONGO_CRASH)), key=lambda f: f.at
        )
        assert all(a.ends < b.at for a, b in itertools.pairwise(stores))


def test_a_replica_gets_a_new_fault_only_once_its_last_one_is_over() -> None:
    replicas = set(replica_names(2))
    for seed in range(20):
        last_end: dict[str, float] = {}
        for fault in fault_schedule(FIVE_MINUTES, seed):
            if fault.target not in replicas:
                continue
            assert fault.at >= last_end.get(fault.target, 0.0)
            last_end[fault.target] = fault.ends


def test_pauses_outlast_the_step_deadline() -> None:
    pauses = [f for f in fault_schedule(FIVE_MINUTES, 3) if f.kind == PAUSE]
    assert pauses and all(f.hold > FIVE_MINUTES.step_timeout_s for f in pauses)


def test_percentiles_and_tables() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 99) == 99.0
    rows = fault_rows(
        {KILL: 2},
        [
            {"kind": KILL, "started": 1.0, "recovery_s": 4.0},
            {"kind": KILL, "started": 2.0, "recovery_s": 2.0},
        ],
    )
    assert rows == [[KILL, 2, 2, "2.00", "4.00", "4.00"]]
    assert table(["a", "b"], [["x", 1]], right=[1]).splitlines() == [
        "| a | b |",
        "|---|---|",
        "| x | 1 |",
    ]


def test_wallet_mark_keys_read_back_as_operation_ids() -> None:
    assert operation_of("tr_1:debit_source") == "tr_1:debit_source"
    assert operation_of("a%2Eb%24c%25d") == "a.b$c%d"
