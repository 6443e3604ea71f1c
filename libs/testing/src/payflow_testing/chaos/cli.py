"""`make chaos` / `python -m payflow_testing.chaos`: a fault-injecting soak with an invariant
checker.

Starts the embedded stores (Redis with an fsync'd append-only file) and every service with
`--replicas` replicas, each its own OS process, sharing the stores and consumer groups; internal
services sit behind failover balancers, gateways are picked per request. It sets up users
(funded, one with a frozen wallet, one with nothing), sandbox ledger faults and webhook endpoints
on local receivers, then runs `--rate` money movements per second for `--duration` seconds while
the seed's fault schedule kills replicas (SIGKILL, restart after a pause), pauses them (SIGSTOP
past the step deadline), crashes Redis and the MongoDB-protocol server (SIGKILL, restart on the
same port and data), and makes receivers fail, crawl or stall. Invariants are checked every few
seconds with reads only, and once more after the faults stop and the system settles.

Exit status: 0 when every invariant holds, 1 when one is violated, 2 when the run could not be
set up. A run's verdict is its invariants, never a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from payflow_testing.chaos.cluster import ChaosCluster
from payflow_testing.chaos.invariants import InvariantChecker, Subscription
from payflow_testing.chaos.receivers import ERROR, OK, SLOW, STALL, ChaosReceiver
from payflow_testing.chaos.report import render
from payflow_testing.chaos.schedule import (
    KILL,
    MONGO_CRASH,
    PAUSE,
    RECEIVER_ERROR,
    RECEIVER_SLOW,
    RECEIVER_STALL,
    REDIS_CRASH,
    Fault,
    Plan,
    count_by_kind,
    fault_schedule,
)
from payflow_testing.chaos.traffic import Traffic

ADMIN_EMAIL = "chaos-admin@example.com"
ADMIN_PASSWORD = "chaos-admin-password-123"  # noqa: S105 - a throwaway run's admin
STEP_TIMEOUT_S = 2.0

CHAOS_ENV = {
    "PAYFLOW_BCRYPT_ROUNDS": "4",
    "PAYFLOW_JWT_ACCESS_TTL_SECONDS": "86400",
    "PAYFLOW_WEBHOOK_ALLOW_PRIVATE_URLS": "true",
    "PAYFLOW_BOOTSTRAP_ADMIN_EMAIL": ADMIN_EMAIL,
    "PAYFLOW_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
    # Recovery paths in seconds rather than minutes.
    "PAYFLOW_STEP_TIMEOUT_S": str(STEP_TIMEOUT_S),
    "PAYFLOW_FORWARD_STEP_MAX_SENDS": "4",
    "PAYFLOW_COMPENSATION_BACKOFF_MAX_S": "4",
    "PAYFLOW_SWEEPER_INTERVAL_S": "0.5",
    "PAYFLOW_STREAM_CLAIM_IDLE_MS": "3000",
    "PAYFLOW_STREAM_RECLAIM_INTERVAL_S": "1",
    # A command whose handler keeps failing (the sandbox `error` fault) is dead-lettered after
    # five deliveries, some 15 s; the orchestrator's re-sends settle its saga meanwhile.
    "PAYFLOW_STREAM_MAX_DELIVERIES": "5",
    "PAYFLOW_STUCK_GRACE_S": "10",
    "PAYFLOW_IDEMPOTENCY_LOCK_S": "5",
    # Five retries over 31 s: longer than any receiver fault of the schedule (at most 10 s).
    "PAYFLOW_WEBHOOK_RETRY_SCHEDULE": "1,2,4,8,16",
    "PAYFLOW_WEBHOOK_TIMEOUT_S": "3",
    "PAYFLOW_WEBHOOK_SWEEPER_INTERVAL_S": "2",
    "PAYFLOW_WEBHOOK_SWEEPER_GRACE_S": "5",
}
RECEIVERS = (("steady-1", True), ("steady-2", True), ("flaky-1", False), ("flaky-2", False))
RECEIVER_MODES = {RECEIVER_STALL: STALL, RECEIVER_ERROR: ERROR, RECEIVER_SLOW: SLOW}
READY_TIMEOUT_S = 90.0
TRAFFIC_AFTER_FAULTS_S = 3.0
"""Traffic goes on this long after the last fault is over, so that sagas are seen to progress."""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m payflow_testing.chaos",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--duration", type=float, default=300.0, help="seconds of traffic and faults (default 300)"
    )
    parser.add_argument("--seed", type=int, default=1, help="draws the fault schedule (default 1)")
    parser.add_argument(
        "--rate", type=float, default=4.0, help="money movements started per second (default 4)"
    )
    parser.add_argument(
        "--replicas", type=int, default=2, help="replicas of every service (default 2)"
    )
    parser.add_argument("--users", type=int, default=12, help="funded users (default 12)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the report's figures here")
    parser.add_argument(
        "--work-dir", type=Path, help="logs and store data (default: a temporary directory)"
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the work directory even when every invariant holds",
    )
    parser.add_argument(
        "--log-level", default="WARNING", help="services' log level (default WARNING)"
    )
    parser.add_argument(
        "--check-interval", type=float, default=5.0, help="seconds between live checks (default 5)"
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=120.0,
        help="seconds to wait for webhooks at the end (default 120)",
    )
    parser.add_argument(
        "--no-faults", action="store_true", help="the same run without any fault (a baseline)"
    )
    parser.add_argument(
        "--schedule-only", action="store_true", help="print the fault schedule and exit"
    )
    args = parser.parse_args(argv)
    if args.duration < 20:
        parser.error("--duration must be at least 20 seconds")
    if args.replicas < 1 or args.rate <= 0 or args.users < 2:
        parser.error("--replicas >= 1, --rate > 0 and --users >= 2")
    return args


@dataclass
class FaultRecord:
    fault: Fault
    started: float | None = None
    ended: float | None = None
    ready_at: float | None = None
    progress_at: float | None = None
    respawns: int = 0
    error: str | None = None

    @property
    def recovery_s(self) -> float | None:
        if self.started is None or self.ready_at is None or self.progress_at is None:
            return None
        return max(self.ready_at, self.progress_at) - self.started

    def to_json(self) -> dict[str, Any]:
        return {
            **self.fault.to_json(),
            "started": _round(self.started),
            "ended": _round(self.ended),
            "ready_at": _round(self.ready_at),
            "progress_at": _round(self.progress_at),
            "recovery_s": _round(self.recovery_s),
            "respawns": self.respawns,
            "error": self.error,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


@dataclass
class ChaosRun:
    args: argparse.Namespace
    cluster: ChaosCluster
    traffic: Traffic
    receivers: dict[str, ChaosReceiver]
    schedule: list[Fault]
    t0: float = 0.0
    records: list[FaultRecord] = field(default_factory=list)
    unexpected_exits: list[dict[str, Any]] = field(default_factory=list)
    expected_down: set[str] = field(default_factory=set)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    def now(self) -> float:
        return time.monotonic() - self.t0

    # ------------------------------------------------------------ readiness

    async def _ready(self, client: httpx.AsyncClient, name: str) -> bool:
        replica = self.cluster.processes[name]
        if not replica.alive or replica.paused:
            return False
        try:
            response = await client.get(f"{replica.url}/readyz", timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def _bring_up(self, name: str, record: FaultRecord | None) -> bool:
        """Spawn `name` and wait until it is ready; a replica that exits while starting (say
        the store it needs is down) is started again, as a supervisor would."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        async with httpx.AsyncClient() as client:
            await asyncio.to_thread(self.cluster.spawn, name)
            while time.monotonic() < deadline:
                replica = self.cluster.processes[name]
                if not replica.alive:
                    if record is not None:
                        record.respawns += 1
                    await asyncio.sleep(1.0)
                    await asyncio.to_thread(self.cluster.spawn, name)
                    continue
                if await self._ready(client, name):
                    return True
                await asyncio.sleep(0.2)
        return False

    async def _all_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                names = [n for n in self.cluster.processes if n not in self.expected_down]
                states = await asyncio.gather(*(self._ready(client, n) for n in names))
                if all(states):
                    return True
                await asyncio.sleep(0.3)
        return False

    def note_progress(self) -> None:
        """For each fault over: the first time (run clock) a saga was seen terminal once its
        target was ready again."""
        seen = sorted(s - self.t0 for s in self.traffic.terminal_seen)
        for record in self.records:
            if record.ready_at is None or record.progress_at is not None:
                continue
            index = bisect.bisect_left(seen, record.ready_at)
            if index < len(seen):
                record.progress_at = seen[index]

    # ------------------------------------------------------------ faults

    async def inject_all(self) -> float:
        """Run the schedule; answers the run-clock time when the last fault was over (its
        target ready again)."""
        tasks = []
        for fault in self.schedule:
            record = FaultRecord(fault)
            self.records.append(record)
            tasks.append(asyncio.create_task(self._inject(record)))
        await asyncio.gather(*tasks)
        ends = [r.ready_at or r.ended or 0.0 for r in self.records]
        return max(ends, default=self.now())

    async def _inject(self, record: FaultRecord) -> None:
        fault = record.fault
        await asyncio.sleep(max(0.0, fault.at - self.now()))
        lock = self.locks.setdefault(fault.target, asyncio.Lock())
        async with lock:
            try:
                await self._apply(record)
            except Exception as exc:  # recorded in the report; the run goes on
                record.error = f"{type(exc).__name__}: {exc}"

    async def _apply(self, record: FaultRecord) -> None:
        fault = record.fault
        if fault.kind == KILL:
            self.expected_down.add(fault.target)
            record.started = self.now()
            await asyncio.to_thread(self.cluster.kill, fault.target)
            await asyncio.sleep(fault.hold)
            self.cluster.processes[fault.target].restarts += 1
            record.ended = self.now()
            ready = await self._bring_up(fault.target, record)
            self.expected_down.discard(fault.target)
            if not ready:
                record.error = "not ready again"
                return
            record.ready_at = self.now()
        elif fault.kind == PAUSE:
            self.expected_down.add(fault.target)
            record.started = self.now()
            self.cluster.pause(fault.target)
            await asyncio.sleep(fault.hold)
            self.cluster.resume(fault.target)
            record.ended = self.now()
            self.expected_down.discard(fault.target)
            async with httpx.AsyncClient() as client:
                deadline = time.monotonic() + READY_TIMEOUT_S
                while not await self._ready(client, fault.target):
                    if time.monotonic() > deadline:
                        record.error = "not ready again"
                        return
                    await asyncio.sleep(0.2)
            record.ready_at = self.now()
        elif fault.kind in (REDIS_CRASH, MONGO_CRASH):
            store = self.cluster.redis if fault.kind == REDIS_CRASH else self.cluster.mongo
            record.started = self.now()
            await asyncio.to_thread(store.crash)
            await asyncio.sleep(fault.hold)
            store.restarts += 1
            await asyncio.to_thread(store.start)
            record.ended = self.now()
            if not await self._all_ready(READY_TIMEOUT_S):
                record.error = "replicas not ready again"
                return
            record.ready_at = self.now()
        else:
            receiver = self.receivers[fault.target]
            record.started = self.now()
            receiver.set_mode(RECEIVER_MODES[fault.kind])
            await asyncio.sleep(fault.hold)
            receiver.set_mode(OK)
            record.ended = record.ready_at = self.now()
            record.progress_at = record.ended

    async def supervise(self, stop: asyncio.Event) -> None:
        """Restart any replica that died without being killed, and say so in the report."""
        while not stop.is_set():
            for name, replica in self.cluster.processes.items():
                if name in self.expected_down or replica.process is None or replica.alive:
                    continue
                lock = self.locks.setdefault(name, asyncio.Lock())
                if lock.locked():
                    continue
                async with lock:
                    if replica.alive or name in self.expected_down:
                        continue
                    self.unexpected_exits.append(
                        {
                            "at": round(self.now(), 2),
                            "name": name,
                            "returncode": replica.process.returncode,
                            "log_tail": self.cluster.log_tail(name, 15),
                        }
                    )
                    self.expected_down.add(name)
                    await self._bring_up(name, None)
                    self.expected_down.discard(name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.5)

    # ------------------------------------------------------------ progress line

    def status_line(self, checker: InvariantChecker) -> str:
        ops = self.traffic.operations
        done = [o for o in ops if o.status != "pending"]
        completed = sum(1 for o in done if o.status == "completed")
        failed = sum(1 for o in done if o.status == "failed")
        other = len(done) - completed - failed
        injected = sum(1 for r in self.records if r.started is not None)
        down = sorted(self.expected_down)
        for store in (self.cluster.redis, self.cluster.mongo):
            if store.process is None or store.process.poll() is not None:
                down.append(store.name)
        violations = sum(c.violations for c in checker.checks.values())
        return (
            f"[{self.now():6.1f}s/{self.args.duration:.0f}s] ops {len(ops)} "
            f"(completed {completed}, failed {failed}, other {other}, in flight "
            f"{self.traffic.in_flight}) faults {injected}/{len(self.schedule)} "
            f"down: {','.join(down) or '-'} violations {violations}"
        )

    async def show_progress(self, checker: InvariantChecker, stop: asyncio.Event) -> None:
        tty = sys.stderr.isatty()
        last_plain = 0.0
        while not stop.is_set():
            line = self.status_line(checker)
            if tty:
                sys.stderr.write("\r" + line.ljust(140)[:160])
                sys.stderr.flush()
            elif time.monotonic() - last_plain >= 15:
                last_plain = time.monotonic()
                sys.stderr.write(line + "\n")
                sys.stderr.flush()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
        if tty:
            sys.stderr.write("\r" + self.status_line(checker).ljust(140) + "\n")


async def _reconciliation(traffic: Traffic) -> dict[str, Any] | None:
    headers = {"Authorization": f"Bearer {traffic.admin_token}"}
    for _ in range(10):
        response = await traffic.call(
            "GET", "/v1/admin/reconciliation", headers=headers, deadline_s=30
        )
        if response is None or response.status_code != 200:
            return None
        report: dict[str, Any] = response.json()
        if report.get("ok"):
            return report
        await asyncio.sleep(1.0)
    return report


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


async def run(args: argparse.Namespace, work_dir: Path) -> dict[str, Any]:
    began = time.monotonic()
    plan = Plan(
        args.duration, args.replicas, STEP_TIMEOUT_S, tuple(n for n, s in RECEIVERS if not s)
    )
    schedule = [] if args.no_faults else fault_schedule(plan, args.seed)
    env = {**CHAOS_ENV, "PAYFLOW_LOG_LEVEL": args.log_level.upper()}
    cluster = ChaosCluster(work_dir, replicas=args.replicas, extra_env=env)
    receivers = {name: ChaosReceiver(name, steady=steady) for name, steady in RECEIVERS}
    for receiver in receivers.values():
        receiver.start()
    _say(f"starting {len(cluster.processes)} service processes, Redis and MongoDB in {work_dir}")
    traffic: Traffic | None = None
    checker: InvariantChecker | None = None
    try:
        await asyncio.to_thread(cluster.start)
        started_s = time.monotonic() - began
        traffic = Traffic(cluster.gateway_urls, args.rate, args.seed, users=args.users)
        await traffic.login_admin(ADMIN_EMAIL, ADMIN_PASSWORD)
        receiver_list = list(receivers.values())
        endpoint_urls = [r.url("") for r in receiver_list]
        endpoints = await traffic.set_up(endpoint_urls)
        subscriptions = await _subscriptions(traffic, endpoints, receiver_list)
        setup_s = time.monotonic() - began - started_s
        _say(
            f"started in {started_s:.0f} s; set up {len(traffic.users)} users and "
            f"{len(subscriptions)} webhook endpoints in {setup_s:.0f} s"
        )
        checker = InvariantChecker(
            mongo_url=cluster.mongo_url,
            redis_url=cluster.redis_url,
            prefix=cluster.prefix,
            subscriptions=subscriptions,
            receivers=receiver_list,
        )
        await checker.note_existing_sagas()
        chaos = ChaosRun(args, cluster, traffic, receivers, schedule)
        chaos.t0 = time.monotonic()
        stop = asyncio.Event()
        helpers = [
            asyncio.create_task(chaos.supervise(stop)),
            asyncio.create_task(chaos.show_progress(checker, stop)),
            asyncio.create_task(_live_checks(checker, traffic, stop, args.check_interval)),
        ]
        injector = asyncio.create_task(chaos.inject_all())
        traffic_stop = asyncio.Event()
        load = asyncio.create_task(traffic.run(traffic_stop))
        await asyncio.sleep(args.duration)
        faults_over = await injector  # a fault delayed by a slow restart may end late
        if schedule:
            await asyncio.sleep(max(0.0, faults_over + TRAFFIC_AFTER_FAULTS_S - chaos.now()))
        traffic_stop.set()
        traffic_over = chaos.now()
        quiet_at = faults_over if schedule else traffic_over
        stop.set()
        await asyncio.gather(*helpers)
        _say(f"[{chaos.now():6.1f}s] traffic and faults over; waiting for every saga to end")
        await asyncio.gather(load, checker.wait_terminal(chaos.t0 + quiet_at, load))
        chaos.note_progress()
        checker.deliberate = traffic.deliberate_failure_ids()
        reconciliation = await _reconciliation(traffic)
        _say(f"[{chaos.now():6.1f}s] checking the invariants once more, and the webhooks")
        await checker.final(reconciliation, args.drain_timeout)
        checks = [c.to_json() for c in checker.checks.values()]
        ok = all(c.ok for c in checker.checks.values())
        return {
            "ok": ok,
            "run": {
                "seed": args.seed,
                "duration_s": args.duration,
                "rate": args.rate,
                "replicas": args.replicas,
                "users": args.users,
                "work_dir": str(work_dir),
                "wall_s": time.monotonic() - began,
                "env": env,
                "start_s": started_s,
                "setup_s": setup_s,
                "traffic_over_at": traffic_over,
                "faults_over_at": quiet_at,
            },
            "schedule": [f.to_json() for f in schedule],
            "faults_planned": count_by_kind(schedule),
            "faults": [r.to_json() for r in chaos.records],
            "process_kills": sum(
                1 for r in chaos.records if r.fault.kind == KILL and r.started is not None
            ),
            "redis_crashes": cluster.redis.restarts,
            "mongo_crashes": cluster.mongo.restarts,
            "unexpected_exits": chaos.unexpected_exits,
            "outcomes": traffic.outcomes(),
            "operations": len(traffic.operations),
            "invariants": checks,
            "settle_s": checker.settle_s,
            "webhook_drain_s": checker.webhook_drain_s,
            "min_balance_seen": checker.min_balance_seen,
            "balancers": cluster.balancers.stats(),
        }
    finally:
        if checker is not None:
            await checker.aclose()
        if traffic is not None:
            await traffic.aclose()
        await asyncio.to_thread(cluster.stop)
        for receiver in receivers.values():
            receiver.stop()


async def _live_checks(
    checker: InvariantChecker, traffic: Traffic, stop: asyncio.Event, interval: float
) -> None:
    while not stop.is_set():
        checker.deliberate = traffic.deliberate_failure_ids()
        await checker.live_round()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


async def _subscriptions(
    traffic: Traffic, endpoints: dict[str, str], receivers: Sequence[ChaosReceiver]
) -> list[Subscription]:
    by_port = {r.port: r for r in receivers}
    found: list[Subscription] = []
    for user in traffic.users:
        response = await traffic.call("GET", "/v1/webhook-endpoints", headers=user.headers)
        assert response is not None and response.status_code == 200, response
        endpoint = response.json()["data"][0]
        url = httpx.URL(endpoint["url"])
        receiver = by_port[int(url.port or 0)]
        found.append(
            Subscription(
                user_id=user.user_id,
                endpoint_id=str(endpoint["id"]),
                receiver=receiver.name,
                path=url.path,
                steady=receiver.steady,
            )
        )
    assert len(found) == len(endpoints)
    return found


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    plan = Plan(
        args.duration, args.replicas, STEP_TIMEOUT_S, tuple(n for n, s in RECEIVERS if not s)
    )
    schedule = [] if args.no_faults else fault_schedule(plan, args.seed)
    counts = count_by_kind(schedule)
    print(
        f"fault schedule of seed {args.seed} ({len(schedule)} faults: "
        + ", ".join(f"{v} {k}" for k, v in counts.items() if v)
        + ")"
    )
    for fault in schedule:
        print("  " + fault.describe())
    sys.stdout.flush()
    if args.schedule_only:
        return
    temporary = args.work_dir is None
    work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="payflow-chaos-"))
    try:
        report = asyncio.run(run(args, work_dir))
    except Exception as exc:
        print(f"chaos run could not be completed: {type(exc).__name__}: {exc}", file=sys.stderr)
        print(f"logs: {work_dir}", file=sys.stderr)
        raise SystemExit(2) from exc
    print(render(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str))
        print(f"figures written to {args.json}")
    if report["ok"] and temporary and not args.keep:
        shutil.rmtree(work_dir, ignore_errors=True)
    raise SystemExit(0 if report["ok"] else 1)
