"""The pure computations of `make bench`: what it reads from /proc, /metrics and Redis, and the
figures and table it makes of them."""

from __future__ import annotations

import math

import pytest

from payflow_testing.bench.figures import (
    ProcStat,
    counter_delta,
    cpu_ms_per_transfer,
    descendants,
    fmt,
    latency_summary,
    parse_commandstats,
    parse_proc_stat,
    parse_prometheus,
    percentile,
    render_table,
    scenario_rows,
    split_driver_commands,
    store_commands,
    summarize_redis,
    summarize_store,
    tree_ticks,
    webhook_attempts,
)

# ---------------------------------------------------------------- percentiles


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.95) == 95.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile(values, 0.0) == 1.0
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([7.0], 0.99) == 7.0


def test_percentile_of_nothing_is_none_and_q_is_checked() -> None:
    assert percentile([], 0.5) is None
    with pytest.raises(ValueError, match="q must be"):
        percentile([1.0], 1.5)


def test_latency_summary_is_in_milliseconds() -> None:
    summary = latency_summary([0.1, 0.2, 0.3, 0.4])
    assert summary["count"] == 4
    assert summary["p50_ms"] == pytest.approx(200.0)
    assert summary["max_ms"] == pytest.approx(400.0)
    assert latency_summary([])["p95_ms"] is None


# ---------------------------------------------------------------- /proc


STAT = (
    "4242 (python -m (x) y) S 4200 4242 4242 0 -1 4194560 9000 0 0 0 "
    "1500 250 30 4 20 0 7 0 123456 2000000 3000 18446744073709551615"
)


def test_proc_stat_fields_are_found_after_a_comm_with_spaces_and_parentheses() -> None:
    stat = parse_proc_stat(STAT)
    assert stat == ProcStat(
        pid=4242,
        comm="python -m (x) y",
        state="S",
        ppid=4200,
        utime=1500,
        stime=250,
        cutime=30,
        cstime=4,
    )
    assert stat.ticks == 1784


def _stat(pid: int, ppid: int, utime: int, stime: int = 0, cutime: int = 0) -> ProcStat:
    return ProcStat(pid, "p", "S", ppid, utime, stime, cutime, 0)


def test_descendants_walk_the_whole_tree() -> None:
    parent_of = {10: 1, 11: 10, 12: 11, 13: 10, 20: 1, 21: 20}
    assert descendants(10, parent_of) == {11, 12, 13}
    assert descendants(21, parent_of) == set()


def test_tree_ticks_add_live_descendants_and_reaped_children_once() -> None:
    stats = {
        10: _stat(10, 1, utime=100, stime=50, cutime=7),
        11: _stat(11, 10, utime=20),
        12: _stat(12, 11, utime=3),
        30: _stat(30, 1, utime=999),
    }
    assert tree_ticks(10, stats) == 100 + 50 + 7 + 20 + 3
    assert tree_ticks(10, stats, with_children=False) == 150
    assert tree_ticks(99, stats) is None


def test_cpu_ms_per_transfer() -> None:
    per = cpu_ms_per_transfer(
        {"gateway": 100, "gone": 5, "external": None},
        {"gateway": 300, "gone": None, "external": None},
        clock_ticks=100,
        transfers=50,
    )
    # 200 ticks = 2 s = 2000 ms over 50 transfers
    assert per == {"gateway": pytest.approx(40.0), "gone": None, "external": None}


# ---------------------------------------------------------------- Prometheus


METRICS = """\
# HELP payflow_store_commands_total Commands sent to the document store, by service and command name
# TYPE payflow_store_commands_total counter
payflow_store_commands_total{service="wallet",command="find"} 12.0
payflow_store_commands_total{command="update",service="wallet"} 4.0 1700000000000
payflow_store_commands_total{service="wallet",command="hello"} 2.0
payflow_store_commands_created{service="wallet",command="find"} 1.7e+09
http_requests_total{handler="/v1/x",note="a \\"quoted\\" } brace, and \\\\ slash"} 7
process_cpu_seconds_total 3.25
weird_metric{le="+Inf"} +Inf
this line is not a sample
"""


def test_prometheus_samples_labels_and_families_are_parsed() -> None:
    exposition = parse_prometheus(METRICS)
    names = [s.name for s in exposition.samples]
    assert names.count("payflow_store_commands_total") == 3
    assert "payflow_store_commands_total" in exposition.families
    http = next(s for s in exposition.samples if s.name == "http_requests_total")
    assert http.label("note") == 'a "quoted" } brace, and \\ slash'
    assert http.value == 7
    cpu = next(s for s in exposition.samples if s.name == "process_cpu_seconds_total")
    assert cpu.labels == () and cpu.value == 3.25
    assert math.isinf(next(s for s in exposition.samples if s.name == "weird_metric").value)


def test_store_commands_sum_by_command_and_tell_absent_from_zero() -> None:
    assert store_commands(METRICS) == {"find": 12.0, "update": 4.0, "hello": 2.0}
    # The counter is declared but no command was sent yet: zero, not "n/a".
    declared = (
        "# HELP payflow_store_commands_total x\n# TYPE payflow_store_commands_total counter\n"
    )
    assert store_commands(declared) == {}
    # prometheus_client announces a counter under its name without `_total`.
    assert store_commands("# TYPE payflow_store_commands counter\n") == {}
    assert store_commands("process_cpu_seconds_total 3.0\n") is None
    assert store_commands("") is None


def test_counters_of_two_services_in_one_process_are_summed() -> None:
    text = (
        'payflow_store_commands_total{service="webhooks",command="find"} 3\n'
        'payflow_store_commands_total{service="webhooks-worker",command="find"} 4\n'
    )
    assert store_commands(text) == {"find": 7.0}


def test_webhook_attempts_by_result() -> None:
    text = (
        "# TYPE payflow_webhook_attempts counter\n"
        'payflow_webhook_attempts_total{result="success"} 40.0\n'
        'payflow_webhook_attempts_created{result="success"} 1.7e+09\n'
        'payflow_webhook_attempts_total{result="network_error"} 2.0\n'
    )
    assert webhook_attempts(text) == {"success": 40.0, "network_error": 2.0}
    assert webhook_attempts(METRICS) is None


# ---------------------------------------------------------------- deltas


def test_counter_delta_handles_new_keys_resets_and_unchanged() -> None:
    before = {"find": 10.0, "insert": 5.0, "update": 8.0}
    after = {"find": 25.0, "insert": 5.0, "update": 3.0, "aggregate": 2.0}
    assert counter_delta(before, after) == {"find": 15.0, "update": 3.0, "aggregate": 2.0}


def test_driver_commands_are_split_off_case_insensitively() -> None:
    ours, driver = split_driver_commands(
        {"find": 3.0, "isMaster": 1.0, "hello": 2.0, "endSessions": 1.0, "ping": 4.0}
    )
    assert ours == {"find": 3.0}
    assert driver == {"isMaster": 1.0, "hello": 2.0, "endSessions": 1.0, "ping": 4.0}


def test_commandstats_from_raw_text_and_from_redis_py() -> None:
    raw = (
        "# Commandstats\r\n"
        "cmdstat_xadd:calls=12,usec=300,usec_per_call=25.00,rejected_calls=0,failed_calls=0\r\n"
        "cmdstat_get:calls=3,usec=4,usec_per_call=1.33\r\n"
    )
    assert parse_commandstats(raw) == {"xadd": 12.0, "get": 3.0}
    parsed = {"cmdstat_xadd": {"calls": 12, "usec": 300}, "cmdstat_info": {"calls": 2}}
    assert parse_commandstats(parsed) == {"xadd": 12.0, "info": 2.0}


def test_summarize_store_per_service_per_command_and_driver() -> None:
    before = {
        "wallet": {"find": 10.0, "hello": 1.0},
        "ledger": {"insert": 5.0},
        "gateway": None,
    }
    after = {
        "wallet": {"find": 30.0, "update": 10.0, "hello": 3.0},
        "ledger": {"insert": 15.0},
        "gateway": None,
    }
    summary = summarize_store(before, after, transfers=10)
    assert summary["by_service"]["gateway"] is None
    assert summary["by_service"]["wallet"] == {
        "total": pytest.approx(3.0),
        "commands": {"find": 2.0, "update": 1.0},
        "driver": {"hello": 0.2},
    }
    assert summary["by_command"] == {"find": 2.0, "update": 1.0, "insert": 1.0}
    assert summary["driver"] == {"hello": pytest.approx(0.2)}
    assert summary["total"] == pytest.approx(4.0)


def test_summarize_store_without_the_counter_anywhere_is_not_available() -> None:
    summary = summarize_store({"wallet": None}, {"wallet": None}, transfers=10)
    assert summary["total"] is None and summary["by_command"] is None


def test_summarize_redis_leaves_out_the_bench_info_calls() -> None:
    summary = summarize_redis(
        {"xadd": 10.0, "info": 3.0}, {"xadd": 50.0, "xack": 20.0, "info": 4.0}, transfers=20
    )
    assert summary == {
        "total": pytest.approx(3.0),
        "by_command": {"xadd": 2.0, "xack": 1.0},
        "excluded": {"info": 1.0},
    }
    assert summarize_redis(None, {"xadd": 1.0}, transfers=1) is None


# ---------------------------------------------------------------- report


def test_fmt() -> None:
    assert fmt(None) == "n/a"
    assert fmt(float("nan")) == "n/a"
    assert fmt(3) == "3"
    assert fmt(3.14159, 2) == "3.14"
    assert fmt("yes") == "yes"


def test_render_table_aligns_columns_and_keeps_headings() -> None:
    table = render_table("uniform", ["C=10", "C=50"], [("tps", ["14.8", "115.2"]), ("CPU", [])])
    lines = table.splitlines()
    assert lines[0] == "uniform  C=10   C=50"
    assert set(lines[1]) == {"-"}
    assert lines[2] == "tps      14.8  115.2"
    assert lines[3] == "CPU"


def _run(concurrency: int, *, store: bool) -> dict[str, object]:
    return {
        "concurrency": concurrency,
        "throughput_per_s": 15.25,
        "completed": 1999,
        "failed": 1,
        "errors": {"total": 0, "by_kind": {}},
        "elapsed_s": 131.0,
        "drain_s": 2.0,
        "latency": {"p50_ms": 600.0, "p95_ms": 900.0, "p99_ms": 1200.0},
        "webhook": None,
        "money": {"before": 10, "after": 10, "conserved": True},
        "cpu_ms_per_transfer": {"gateway": 5.5, "mongo": None},
        "cpu_ms_per_transfer_total": 5.5,
        "store": summarize_store(
            {"gateway": {"find": 0.0} if store else None},
            {"gateway": {"find": 20.0, "hello": 2.0} if store else None},
            10,
        ),
        "redis": None,
    }


def test_scenario_rows_show_figures_and_not_available_ones() -> None:
    ordered = scenario_rows([_run(10, store=True), _run(50, store=False)], ["gateway", "mongo"])
    rows = dict(ordered)  # a label seen twice ("  gateway": CPU, then store) keeps the last
    labels = [label for label, _ in ordered]
    assert labels.count("  gateway") == 2
    assert ordered[labels.index("  gateway")][1] == ["5.50", "5.50"]
    assert rows["completed transfers/s"] == ["15.2", "15.2"]
    assert rows["transfers ok / failed / errors"] == ["1999 / 1 / 0", "1999 / 1 / 0"]
    assert rows["POST->terminal p99 ms"] == ["1200.0", "1200.0"]
    assert rows["webhook delivered p50 ms"] == ["n/a", "n/a"]
    assert rows["money conserved"] == ["yes", "yes"]
    assert rows["  gateway"] == ["2.00", "n/a"]
    assert rows["  mongo"] == ["n/a", "n/a"]
    assert rows["  total (excl. driver)"] == ["2.00", "n/a"]
    assert rows["    find"] == ["2.00", "0.00"]
    assert rows["  driver's own (excluded)"] == ["0.20", "n/a"]
    assert rows["redis commands per transfer"] == ["n/a", "n/a"]
    table = render_table(
        "uniform", ["C=10", "C=50"], scenario_rows([_run(10, store=True)], ["gateway"])
    )
    assert "store commands per transfer" in table
