"""The pure half of `make bench`: percentiles, /proc/<pid>/stat, Prometheus text, Redis
commandstats, counter deltas and the report table. No IO here, so all of it is unit tested."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

STORE_COMMANDS_METRIC = "payflow_store_commands_total"
WEBHOOK_ATTEMPTS_METRIC = "payflow_webhook_attempts_total"

# Commands the MongoDB driver sends by itself (handshakes, heartbeats, session clean-up), not our
# code: listed, but kept out of the per-transfer totals. Compared case-insensitively.
DRIVER_COMMANDS = frozenset(
    {"hello", "ismaster", "ping", "endsessions", "buildinfo", "saslstart", "saslcontinue"}
)

# Redis commands the bench itself sends (reading INFO before and after).
BENCH_REDIS_COMMANDS = frozenset({"info"})


# ---------------------------------------------------------------- percentiles


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in [0, 1]) of `values`; None when there are none."""
    if not values:
        return None
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be within [0, 1], got {q}")
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def latency_summary(seconds: Sequence[float]) -> dict[str, float | None]:
    """p50/p95/p99/max in milliseconds of latencies given in seconds."""

    def ms(value: float | None) -> float | None:
        return None if value is None else value * 1000.0

    return {
        "count": float(len(seconds)),
        "p50_ms": ms(percentile(seconds, 0.50)),
        "p95_ms": ms(percentile(seconds, 0.95)),
        "p99_ms": ms(percentile(seconds, 0.99)),
        "max_ms": ms(max(seconds) if seconds else None),
    }


# ---------------------------------------------------------------- /proc/<pid>/stat


@dataclass(frozen=True)
class ProcStat:
    pid: int
    comm: str
    state: str
    ppid: int
    utime: int
    stime: int
    cutime: int
    cstime: int

    @property
    def ticks(self) -> int:
        """CPU of this process (all its threads) and of its children it has waited for."""
        return self.utime + self.stime + self.cutime + self.cstime


def parse_proc_stat(text: str) -> ProcStat:
    """One `/proc/<pid>/stat` line. `comm` may hold spaces and parentheses, so the fields after
    it are found from the last `)`."""
    open_at = text.index("(")
    close_at = text.rindex(")")
    pid = int(text[:open_at].strip())
    comm = text[open_at + 1 : close_at]
    rest = text[close_at + 1 :].split()
    # rest[0] is field 3 (state); field n of proc(5) is rest[n - 3].
    return ProcStat(
        pid=pid,
        comm=comm,
        state=rest[0],
        ppid=int(rest[1]),
        utime=int(rest[11]),
        stime=int(rest[12]),
        cutime=int(rest[13]),
        cstime=int(rest[14]),
    )


def descendants(root: int, parent_of: Mapping[int, int]) -> set[int]:
    """Every pid below `root` in the process tree given as pid -> parent pid."""
    children: dict[int, list[int]] = {}
    for pid, ppid in parent_of.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found and child != root:
                found.add(child)
                todo.append(child)
    return found


def tree_ticks(
    root: int, stats: Mapping[int, ProcStat], *, with_children: bool = True
) -> int | None:
    """Clock ticks of `root` and (by default) of every live descendant; None if `root` is gone.

    Each live process counts its own threads (utime/stime) and the children it has reaped
    (cutime/cstime); live children are counted on their own, so nothing is counted twice.
    """
    if root not in stats:
        return None
    if not with_children:
        return stats[root].utime + stats[root].stime
    pids = {root} | descendants(root, {pid: s.ppid for pid, s in stats.items()})
    return sum(stats[pid].ticks for pid in pids if pid in stats)


def cpu_ms_per_transfer(
    before: Mapping[str, int | None],
    after: Mapping[str, int | None],
    clock_ticks: int,
    transfers: int,
) -> dict[str, float | None]:
    """CPU milliseconds per transfer of each named process from two tick snapshots."""
    result: dict[str, float | None] = {}
    for name, start in before.items():
        end = after.get(name)
        if start is None or end is None or transfers <= 0:
            result[name] = None
        else:
            result[name] = (end - start) * 1000.0 / clock_ticks / transfers
    return result


# ---------------------------------------------------------------- Prometheus text format


@dataclass(frozen=True)
class Sample:
    name: str
    labels: tuple[tuple[str, str], ...]
    value: float

    def label(self, key: str) -> str | None:
        return dict(self.labels).get(key)


@dataclass(frozen=True)
class Exposition:
    samples: tuple[Sample, ...]
    families: frozenset[str]
    """Names announced by `# HELP` / `# TYPE` lines (a labelled counter with no child yet has
    metadata but no sample)."""

    def has_metric(self, name: str) -> bool:
        base = name.removesuffix("_total")
        return (
            name in self.families
            or base in self.families
            or any(s.name == name for s in self.samples)
        )


_LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def _unescape(value: str) -> str:
    return re.sub(r"\\[\\\"n]", lambda m: _UNESCAPE[m.group(0)], value)


def _parse_labels(text: str) -> tuple[tuple[str, str], ...]:
    labels: list[tuple[str, str]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _LABEL.match(text, position)
        if match is None:
            raise ValueError(f"bad label set: {text!r}")
        labels.append((match.group(1), _unescape(match.group(2))))
        position = match.end()
    return tuple(labels)


def _parse_value(text: str) -> float:
    lowered = text.lower()
    if lowered in ("+inf", "inf"):
        return math.inf
    if lowered == "-inf":
        return -math.inf
    return float(text)


def parse_prometheus(text: str) -> Exposition:
    """Prometheus text exposition (0.0.4), leniently: a line that does not parse is skipped."""
    samples: list[Sample] = []
    families: set[str] = set()
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                families.add(parts[2])
            continue
        try:
            if "{" in line:
                name, _, remainder = line.partition("{")
                label_text, _, value_text = _split_label_block(remainder)
                labels = _parse_labels(label_text)
            else:
                name, _, value_text = line.partition(" ")
                labels = ()
            value = _parse_value(value_text.split()[0])
        except (ValueError, IndexError):
            continue
        samples.append(Sample(name.strip(), labels, value))
    return Exposition(tuple(samples), frozenset(families))


def _split_label_block(remainder: str) -> tuple[str, str, str]:
    """Split `a="x}",b="y"} 3` at the `}` that closes the label set (not one inside quotes)."""
    in_quotes = False
    escaped = False
    for index, char in enumerate(remainder):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            in_quotes = not in_quotes
        elif char == "}" and not in_quotes:
            return remainder[:index], "}", remainder[index + 1 :]
    raise ValueError("unterminated label set")


def labelled_counter(text: str, metric: str, label: str) -> dict[str, float] | None:
    """The samples of counter `metric` on one /metrics page, summed by the value of `label`;
    None when the page does not export that counter at all."""
    exposition = parse_prometheus(text)
    if not exposition.has_metric(metric):
        return None
    counts: dict[str, float] = {}
    for sample in exposition.samples:
        if sample.name != metric:
            continue
        key = sample.label(label) or "?"
        counts[key] = counts.get(key, 0.0) + sample.value
    return counts


def store_commands(text: str) -> dict[str, float] | None:
    """`payflow_store_commands_total` of one /metrics page by `command` (None: not exported)."""
    return labelled_counter(text, STORE_COMMANDS_METRIC, "command")


def webhook_attempts(text: str) -> dict[str, float] | None:
    """`payflow_webhook_attempts_total` by `result` (success, http_5xx, network_error, ...)."""
    return labelled_counter(text, WEBHOOK_ATTEMPTS_METRIC, "result")


# ---------------------------------------------------------------- counters


def counter_delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """after - before per key (a key missing before counts from 0; a counter that went down was
    reset, so its after value is the delta). Keys whose delta is 0 are dropped."""
    delta: dict[str, float] = {}
    for key, end in after.items():
        start = before.get(key, 0.0)
        change = end - start if end >= start else end
        if change:
            delta[key] = change
    return delta


def split_driver_commands(
    counts: Mapping[str, float],
) -> tuple[dict[str, float], dict[str, float]]:
    """(commands our code sent, commands the driver sent by itself)."""
    ours: dict[str, float] = {}
    driver: dict[str, float] = {}
    for command, count in counts.items():
        (driver if command.lower() in DRIVER_COMMANDS else ours)[command] = count
    return ours, driver


def parse_commandstats(info: str | Mapping[str, Any]) -> dict[str, float]:
    """Calls per command from Redis `INFO commandstats`: either its raw text
    (`cmdstat_get:calls=3,usec=...`) or the dict redis-py makes of it."""
    calls: dict[str, float] = {}
    if isinstance(info, str):
        for line in info.splitlines():
            key, sep, fields = line.strip().partition(":")
            if not sep or not key.startswith("cmdstat_"):
                continue
            for field in fields.split(","):
                name, _, value = field.partition("=")
                if name == "calls":
                    calls[key.removeprefix("cmdstat_")] = float(value)
        return calls
    for key, fields in info.items():
        if not key.startswith("cmdstat_"):
            continue
        if isinstance(fields, Mapping) and "calls" in fields:
            calls[key.removeprefix("cmdstat_")] = float(fields["calls"])
    return calls


def per_transfer(counts: Mapping[str, float], transfers: int) -> dict[str, float]:
    if transfers <= 0:
        return {}
    return {key: value / transfers for key, value in counts.items()}


def top(counts: Mapping[str, float], n: int) -> list[tuple[str, float]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]


# ---------------------------------------------------------------- report


def fmt(value: float | int | str | None, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "n/a"
    return f"{value:.{digits}f}"


Row = tuple[str, Sequence[str]]


def render_table(title: str, columns: Sequence[str], rows: Iterable[Row]) -> str:
    """A plain-text table: one label column, then one right-aligned column per run. A row with
    no cells is a section heading."""
    materialized = list(rows)
    label_width = max([len(title), *(len(label) for label, _ in materialized)])
    widths = [
        max([len(column), *(len(cells[i]) for _, cells in materialized if len(cells) > i)])
        for i, column in enumerate(columns)
    ]
    lines = [
        f"{title:<{label_width}}  "
        + "  ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)),
    ]
    lines.append("-" * len(lines[0]))
    for label, cells in materialized:
        if not cells:
            lines.append(label)
            continue
        padded = list(cells) + [""] * (len(columns) - len(cells))
        lines.append(
            f"{label:<{label_width}}  "
            + "  ".join(f"{c:>{w}}" for c, w in zip(padded, widths, strict=True))
        )
    return "\n".join(line.rstrip() for line in lines)


def scenario_rows(runs: Sequence[Mapping[str, Any]], processes: Sequence[str]) -> list[Row]:
    """The table rows of the runs of one scenario (each run a dict as `RunResult.as_json()`)."""

    def each(getter: Any) -> list[str]:
        return [getter(run) for run in runs]

    def dig(run: Mapping[str, Any], *path: str) -> Any:
        node: Any = run
        for key in path:
            if not isinstance(node, Mapping) or key not in node:
                return None
            node = node[key]
        return node

    rows: list[Row] = [
        ("completed transfers/s", each(lambda r: fmt(r["throughput_per_s"]))),
        (
            "transfers ok / failed / errors",
            each(lambda r: f"{r['completed']} / {r['failed']} / {r['errors']['total']}"),
        ),
        ("POST->terminal p50 ms", each(lambda r: fmt(dig(r, "latency", "p50_ms")))),
        ("POST->terminal p95 ms", each(lambda r: fmt(dig(r, "latency", "p95_ms")))),
        ("POST->terminal p99 ms", each(lambda r: fmt(dig(r, "latency", "p99_ms")))),
        ("webhook delivered p50 ms", each(lambda r: fmt(dig(r, "webhook", "p50_ms")))),
        ("webhook delivered p95 ms", each(lambda r: fmt(dig(r, "webhook", "p95_ms")))),
        (
            "webhook deliveries/transfer",
            each(lambda r: fmt(dig(r, "webhook", "deliveries_per_transfer"), 2)),
        ),
        ("webhooks missing", each(lambda r: fmt(dig(r, "webhook", "missing")))),
        (
            "webhook attempts failed",
            each(lambda r: fmt(dig(r, "webhook", "attempts_failed"), 0)),
        ),
        ("money conserved", each(lambda r: _money(r.get("money")))),
        ("CPU ms per transfer", []),
    ]
    for name in processes:
        rows.append((f"  {name}", each(lambda r, n=name: fmt(dig(r, "cpu_ms_per_transfer", n), 2))))
    rows.append(("  total", each(lambda r: fmt(r.get("cpu_ms_per_transfer_total"), 2))))
    rows.append(("store commands per transfer", []))
    services = [
        p for p in processes if any(dig(r, "store", "by_service", p) is not None for r in runs)
    ]
    for name in services:
        rows.append(
            (f"  {name}", each(lambda r, n=name: fmt(dig(r, "store", "by_service", n, "total"), 2)))
        )
    rows.append(("  total (excl. driver)", each(lambda r: fmt(dig(r, "store", "total"), 2))))
    commands = _union_top(runs, ("store", "by_command"), 8)
    for command in commands:
        rows.append(
            (
                f"    {command}",
                each(lambda r, c=command: fmt(dig(r, "store", "by_command", c) or 0.0, 2)),
            )
        )
    rows.append(
        (
            "  driver's own (excluded)",
            each(lambda r: fmt(_total(dig(r, "store", "driver")), 2)),
        )
    )
    driver = _union_top(runs, ("store", "driver"), 8)
    for command in driver:
        rows.append(
            (
                f"    {command} (driver, excluded)",
                each(lambda r, c=command: fmt(dig(r, "store", "driver", c) or 0.0, 2)),
            )
        )
    rows.append(("redis commands per transfer", each(lambda r: fmt(dig(r, "redis", "total"), 2))))
    for command in _union_top(runs, ("redis", "by_command"), 8):
        rows.append(
            (
                f"    {command}",
                each(lambda r, c=command: fmt(dig(r, "redis", "by_command", c) or 0.0, 2)),
            )
        )
    rows.append(("wall s (transfers / webhook drain)", each(_walls)))
    return rows


def _total(counts: Mapping[str, float] | None) -> float | None:
    return None if counts is None else float(sum(counts.values()))


def _walls(run: Mapping[str, Any]) -> str:
    return f"{run['elapsed_s']:.1f} / {run.get('drain_s', 0.0):.1f}"


def _money(money: Mapping[str, Any] | None) -> str:
    if not money:
        return "n/a"
    if money.get("conserved"):
        return "yes"
    return f"NO ({money.get('before')} -> {money.get('after')})"


def _union_top(runs: Sequence[Mapping[str, Any]], path: tuple[str, str], n: int) -> list[str]:
    best: dict[str, float] = {}
    for run in runs:
        node: Any = run
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        if not isinstance(node, Mapping):
            continue
        for command, value in node.items():
            best[command] = max(best.get(command, 0.0), float(value or 0.0))
    return [command for command, _ in top(best, n)]


# ---------------------------------------------------------------- per-run summaries


def summarize_store(
    before: Mapping[str, Mapping[str, float] | None],
    after: Mapping[str, Mapping[str, float] | None],
    transfers: int,
) -> dict[str, Any]:
    """Store commands per transfer, per service and per command, from two scrapes of every
    service. A service that does not export the counter is None; the totals leave out the
    commands the driver sends by itself (listed under `driver`)."""
    by_service: dict[str, dict[str, Any] | None] = {}
    by_command: dict[str, float] = {}
    driver_total: dict[str, float] = {}
    exported = False
    for name, start in before.items():
        end = after.get(name)
        if start is None or end is None:
            by_service[name] = None
            continue
        exported = True
        ours, driver = split_driver_commands(counter_delta(start, end))
        ours_pt, driver_pt = per_transfer(ours, transfers), per_transfer(driver, transfers)
        by_service[name] = {
            "total": float(sum(ours_pt.values())),
            "commands": ours_pt,
            "driver": driver_pt,
        }
        for command, value in ours_pt.items():
            by_command[command] = by_command.get(command, 0.0) + value
        for command, value in driver_pt.items():
            driver_total[command] = driver_total.get(command, 0.0) + value
    return {
        "by_service": by_service,
        "by_command": by_command if exported else None,
        "driver": driver_total if exported else None,
        "total": float(sum(by_command.values())) if exported else None,
    }


def summarize_redis(
    before: Mapping[str, float] | None, after: Mapping[str, float] | None, transfers: int
) -> dict[str, Any] | None:
    """Redis commands per transfer from two `INFO commandstats`, without the bench's own."""
    if before is None or after is None:
        return None
    delta = counter_delta(before, after)
    ours = {k: v for k, v in delta.items() if k.lower() not in BENCH_REDIS_COMMANDS}
    mine = {k: v for k, v in delta.items() if k.lower() in BENCH_REDIS_COMMANDS}
    by_command = per_transfer(ours, transfers)
    return {
        "total": float(sum(by_command.values())),
        "by_command": by_command,
        "excluded": mine,
    }
