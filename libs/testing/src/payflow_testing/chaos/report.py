"""The chaos run's report: plain-text tables for the terminal (and docs), and the JSON figures.

Pure code: it formats what the run measured and decides nothing but layout.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by the nearest-rank method; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def fmt_s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[int] = ()) -> str:
    """A plain text table; columns listed in `right` are right-aligned."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "| " + " | ".join(parts) + " |"

    separator = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), separator, *(line(r) for r in cells[1:])])


def outcome_rows(outcomes: Mapping[str, Mapping[str, int]]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for kind in sorted(outcomes):
        for label, count in sorted(outcomes[kind].items(), key=lambda kv: (-kv[1], kv[0])):
            rows.append([kind, label, count])
    total = sum(sum(row.values()) for row in outcomes.values())
    rows.append(["all", "", total])
    return rows


def fault_rows(planned: Mapping[str, int], records: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """Per fault kind: planned, injected, and the recovery time (p50, p99, max) of those that
    have one (from the fault until the target is ready again and a saga has progressed)."""
    rows: list[list[Any]] = []
    for kind, count in planned.items():
        done = [r for r in records if r["kind"] == kind and r.get("started") is not None]
        recoveries = [r["recovery_s"] for r in done if r.get("recovery_s") is not None]
        rows.append(
            [
                kind,
                count,
                len(done),
                fmt_s(percentile(recoveries, 50)),
                fmt_s(percentile(recoveries, 99)),
                fmt_s(max(recoveries) if recoveries else None),
            ]
        )
    return rows


def invariant_rows(checks: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for check in checks:
        rows.append(
            [
                check["name"],
                check["phase"],
                check["verdict"],
                check["checked"],
                check["rounds"],
                check["violations"],
            ]
        )
    return rows


def render(report: Mapping[str, Any]) -> str:
    run = report["run"]
    lines = [
        "",
        f"chaos run: seed {run['seed']}, {run['duration_s']:.0f} s of traffic at "
        f"{run['rate']:g}/s, {run['replicas']} replicas of every service, "
        f"wall time {run['wall_s']:.0f} s",
        f"logs and data: {run['work_dir']}",
        "",
        "operations (by what the client finally saw)",
        table(["kind", "outcome", "count"], outcome_rows(report["outcomes"]), right=[2]),
        "",
        "faults (recovery: from the fault until the target is ready again and a saga has progressed)",
        table(
            ["fault", "planned", "injected", "recovery p50 s", "p99 s", "max s"],
            fault_rows(report["faults_planned"], report["faults"]),
            right=[1, 2, 3, 4, 5],
        ),
    ]
    exits = report.get("unexpected_exits") or []
    if exits:
        lines += ["", f"processes that died without being killed: {len(exits)}"]
        lines += [f"  t={e['at']:.1f}s {e['name']} exit {e['returncode']}" for e in exits[:20]]
    lines += [
        "",
        "invariants",
        table(
            ["invariant", "phase", "verdict", "checked", "rounds", "violations"],
            invariant_rows(report["invariants"]),
            right=[3, 4, 5],
        ),
    ]
    for check in report["invariants"]:
        for example in check["examples"][:5]:
            lines.append(f"  {check['name']}: {example}")
    settle = report.get("settle_s")
    lines += [
        "",
        f"every saga terminal {fmt_s(settle)} s after the last fault was over (bound 60 s); "
        f"webhooks drained in {fmt_s(report.get('webhook_drain_s'))} s; "
        f"lowest balance seen {report.get('min_balance_seen')}",
        f"VERDICT: {'every invariant holds' if report['ok'] else 'INVARIANT VIOLATED'}",
    ]
    return "\n".join(lines)
