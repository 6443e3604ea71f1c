"""`make bench` / `python -m payflow_testing.bench`: the performance instrument.

Starts the embedded stores and every service as its own OS process in a temporary directory,
registers and funds the bench users, gives each one webhook endpoint (all events) on a local
receiver, then for each scenario and concurrency: a warm-up, then a closed loop of transfers in
which every client waits on its POST with `Prefer: wait`. Per run it reports throughput, POST to
terminal latency, webhook delivery latency, CPU per transfer of every process (from /proc), store
and Redis commands per transfer, errors, and whether money was conserved. It asserts nothing
(performance is measured here, never in a timed test).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from payflow_devstack.stores import EmbeddedStore, start_embedded_mongo, start_embedded_redis
from payflow_testing.bench.figures import (
    counter_delta,
    cpu_ms_per_transfer,
    latency_summary,
    render_table,
    scenario_rows,
    store_commands,
    summarize_redis,
    summarize_store,
    webhook_attempts,
)
from payflow_testing.bench.history import clone_history
from payflow_testing.bench.load import (
    Outcome,
    Picker,
    ProgressSink,
    User,
    WebhookTracker,
    closed_loop,
    fund,
    gather_bounded,
    hot_sender,
    make_progress,
    register,
    subscribe,
    total_balance,
    uniform,
)
from payflow_testing.bench.probes import (
    CLOCK_TICKS,
    Watched,
    cpu_ticks,
    redis_commandstats,
    scrape_metrics,
)
from payflow_testing.receiver import Receiver
from payflow_testing.stack import SERVICE_MODULES, ServiceStack

BENCH_ENV = {
    "PAYFLOW_BCRYPT_ROUNDS": "4",
    "PAYFLOW_LOG_LEVEL": "WARNING",
    # The receiver listens on 127.0.0.1, which the URL guard refuses unless told otherwise.
    "PAYFLOW_WEBHOOK_ALLOW_PRIVATE_URLS": "true",
    # A default run takes longer than the 15 min access tokens live.
    "PAYFLOW_JWT_ACCESS_TTL_SECONDS": "86400",
    # The load comes from one address and one hot sender: it measures throughput, not limits.
    "PAYFLOW_RATE_LIMITS_ENABLED": "false",
}
SCENARIOS = ("uniform", "hot-sender")
PROCESS_ORDER = (
    "gateway",
    "orchestrator",
    "wallet",
    "ledger",
    "webhooks",
    "webhooks-worker",
    "mongo",
    "redis",
    "loadgen",
)
# Every transfer is between two bench users and every bench user has one endpoint: each event
# of a transfer is delivered to both (endpoints belong to a user and get that user's events).
ENDPOINTS_PER_TRANSFER = 2
TOP_UP_MAX = 100_000_000


def _csv(kind: type, allowed: Sequence[str] | None = None) -> Any:
    def parse(text: str) -> list[Any]:
        items = [kind(part.strip()) for part in text.split(",") if part.strip()]
        if not items:
            raise argparse.ArgumentTypeError("expected a comma-separated list")
        if allowed is not None:
            unknown = [i for i in items if i not in allowed]
            if unknown:
                raise argparse.ArgumentTypeError(f"unknown {unknown}; choose from {list(allowed)}")
        return items

    return parse


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m payflow_testing.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--users", type=int, default=20, help="bench users (default 20)")
    parser.add_argument(
        "--receivers",
        type=int,
        default=100,
        help="extra users the hot sender pays (default 100; 0: the other bench users)",
    )
    parser.add_argument(
        "--transfers", type=int, default=2000, help="measured transfers per run (default 2000)"
    )
    parser.add_argument(
        "--warmup", type=int, default=100, help="uncounted transfers before each run (default 100)"
    )
    parser.add_argument(
        "--concurrency",
        type=_csv(int),
        default=[10, 50],
        help="comma-separated closed-loop client counts, one run each (default 10,50)",
    )
    parser.add_argument(
        "--scenarios",
        type=_csv(str, SCENARIOS),
        default=list(SCENARIOS),
        help="comma-separated: uniform (random distinct pairs), hot-sender (one sender paying "
        "the receivers); default both",
    )
    parser.add_argument(
        "--preload",
        type=int,
        default=0,
        help="first run this many unmeasured transfers of history (default 0)",
    )
    parser.add_argument(
        "--preload-concurrency", type=int, default=50, help="client count of the preload"
    )
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        help="first write this many past transfers' documents into every store, cloned from "
        "200 real ones (fast; see bench/history.py); default 0",
    )
    parser.add_argument("--no-webhook", action="store_true", help="no webhook endpoints")
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=120.0,
        help="seconds to wait after a run for its webhooks to arrive (default 120)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the raw figures here")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--mongo-url", help="use this MongoDB instead of an embedded nx-27017 (its CPU: n/a)"
    )
    parser.add_argument(
        "--redis-url", help="use this Redis instead of an embedded redis-server (its CPU: n/a)"
    )
    args = parser.parse_args(argv)
    if args.users < 2:
        parser.error("--users must be at least 2")
    if args.transfers < 1 or args.warmup < 0 or args.preload < 0 or args.receivers < 0:
        parser.error("--transfers must be positive; --warmup, --preload, --receivers not negative")
    if any(c < 1 for c in args.concurrency):
        parser.error("--concurrency values must be positive")
    return args


@dataclass
class Bench:
    args: argparse.Namespace
    stack: ServiceStack
    client: httpx.AsyncClient
    watched: list[Watched]
    redis_url: str
    tracker: WebhookTracker | None
    progress: ProgressSink
    rng: random.Random
    bench_users: list[User]

    @property
    def service_urls(self) -> dict[str, str]:
        return {name: self.stack.url(name) for name in self.stack.services}

    async def snapshot(self, *, cpu_first: bool) -> dict[str, Any]:
        """CPU ticks, store commands and Redis commandstats. The CPU is read last before a run
        and first after it, so the scrapes themselves stay out of the window."""
        cpu = cpu_ticks(self.watched) if cpu_first else None
        pages = await scrape_metrics(self.client, self.service_urls)
        redis = redis_commandstats(self.redis_url)
        if cpu is None:
            cpu = cpu_ticks(self.watched)
        worker = pages.get("webhooks-worker")
        return {
            "cpu": cpu,
            "store": {name: store_commands(page) if page else None for name, page in pages.items()},
            "attempts": webhook_attempts(worker) if worker else None,
            "redis": redis,
        }

    async def run(self, scenario: str, pick: Picker, concurrency: int) -> dict[str, Any]:
        args = self.args
        label = f"{scenario} C={concurrency}"
        if args.warmup:
            warm, _ = await closed_loop(
                self.client,
                pick,
                args.warmup,
                concurrency,
                self.rng,
                self.progress,
                f"{label} warm-up",
            )
            if self.tracker is not None:
                await self.tracker.drain(
                    _completed_ids(warm), ENDPOINTS_PER_TRANSFER, args.drain_timeout
                )
        money_before = await total_balance(self.client, self.bench_users)
        before = await self.snapshot(cpu_first=False)
        outcomes, elapsed = await closed_loop(
            self.client, pick, args.transfers, concurrency, self.rng, self.progress, label
        )
        drain_started = time.monotonic()
        missing = None
        if self.tracker is not None:
            missing = await self.tracker.drain(
                _completed_ids(outcomes), ENDPOINTS_PER_TRANSFER, args.drain_timeout
            )
        drain_s = time.monotonic() - drain_started
        after = await self.snapshot(cpu_first=True)
        money_after = await total_balance(self.client, self.bench_users)
        return self.result(
            scenario,
            concurrency,
            outcomes,
            elapsed=elapsed,
            drain_s=drain_s,
            missing=missing,
            before=before,
            after=after,
            money=(money_before, money_after),
        )

    def result(
        self,
        scenario: str,
        concurrency: int,
        outcomes: list[Outcome],
        *,
        elapsed: float,
        drain_s: float,
        missing: int | None,
        before: dict[str, Any],
        after: dict[str, Any],
        money: tuple[int, int],
    ) -> dict[str, Any]:
        money_before, money_after = money
        transfers = len(outcomes)
        statuses = Counter(o.status for o in outcomes)
        errors = Counter(o.error for o in outcomes if o.status in ("error", "timeout"))
        terminal = [o.latency_s for o in outcomes if o.status in ("completed", "failed")]
        cpu = cpu_ms_per_transfer(before["cpu"], after["cpu"], CLOCK_TICKS, transfers)
        known = [v for v in cpu.values() if v is not None]
        webhook: dict[str, Any] | None = None
        webhook_samples: list[float] = []
        if self.tracker is not None:
            seen = {
                o.transfer_id: o.seen_at
                for o in outcomes
                if o.status == "completed" and o.transfer_id
            }
            webhook_samples = self.tracker.latencies(seen)
            ids = [o.transfer_id for o in outcomes if o.transfer_id]
            webhook = {
                **latency_summary(webhook_samples),
                "deliveries_per_transfer": self.tracker.deliveries_of(ids) / max(1, transfers),
                "missing": missing,
                "attempts_failed": _failed_attempts(before["attempts"], after["attempts"]),
            }
        return {
            "scenario": scenario,
            "concurrency": concurrency,
            "transfers": transfers,
            "completed": statuses["completed"],
            "failed": statuses["failed"],
            "errors": {
                "total": statuses["error"] + statuses["timeout"],
                "timeouts": statuses["timeout"],
                "by_kind": dict(errors),
            },
            "elapsed_s": elapsed,
            "drain_s": drain_s,
            "throughput_per_s": statuses["completed"] / elapsed if elapsed else None,
            "latency": latency_summary(terminal),
            "webhook": webhook,
            "cpu_ms_per_transfer": cpu,
            "cpu_ms_per_transfer_total": sum(known) if known else None,
            "store": summarize_store(before["store"], after["store"], transfers),
            "redis": summarize_redis(before["redis"], after["redis"], transfers),
            "money": {
                "before": money_before,
                "after": money_after,
                "conserved": money_before == money_after,
            },
            "samples": {"latency_s": terminal, "webhook_s": webhook_samples},
        }


def _failed_attempts(
    before: dict[str, float] | None, after: dict[str, float] | None
) -> float | None:
    """Delivery attempts of the run that did not succeed (the receiver always answers 200, so
    any is a sender-side or network failure, and its retry inflates the delivered latency)."""
    if before is None or after is None:
        return None
    delta = counter_delta(before, after)
    return float(sum(v for result, v in delta.items() if result != "success"))


def _completed_ids(outcomes: Sequence[Outcome]) -> list[str]:
    return [o.transfer_id for o in outcomes if o.status == "completed" and o.transfer_id]


async def bench_main(
    args: argparse.Namespace, stack: ServiceStack, redis_url: str, watched: list[Watched]
) -> list[dict[str, Any]]:
    rng = random.Random(args.seed)
    progress = make_progress()
    receiver: Receiver | None = None if args.no_webhook else Receiver(keep_alive=True)
    limits = httpx.Limits(max_connections=max([*args.concurrency, args.preload_concurrency]) + 20)
    async with httpx.AsyncClient(
        base_url=stack.url("gateway"), timeout=httpx.Timeout(60.0), limits=limits
    ) as client:
        extra = args.receivers if "hot-sender" in args.scenarios else 0
        say(f"registering {args.users} users and {extra} receivers")
        users = await gather_bounded(8, [register(client, "u", i) for i in range(args.users)])
        receivers: list[User] = []
        if extra:
            receivers = await gather_bounded(8, [register(client, "r", i) for i in range(extra)])
        runs_total = len(args.scenarios) * len(args.concurrency) * (args.transfers + args.warmup)
        amount = min(TOP_UP_MAX, max(1_000_000, 100 * 2 * (runs_total + args.preload)))
        say(f"funding {len(users)} wallets with {amount} each")
        await gather_bounded(8, [fund(client, u, amount) for u in users])

        bench = Bench(
            args=args,
            stack=stack,
            client=client,
            watched=watched,
            redis_url=redis_url,
            tracker=None,
            progress=progress,
            rng=rng,
            bench_users=[*users, *receivers],
        )
        if args.preload:
            outcomes, elapsed = await closed_loop(
                client,
                uniform(users),
                args.preload,
                args.preload_concurrency,
                rng,
                progress,
                "preload",
            )
            bad = sum(1 for o in outcomes if o.status not in ("completed", "failed"))
            say(f"preloaded {args.preload} transfers in {elapsed:.1f} s ({bad} errors)")
        if args.history:
            await closed_loop(
                client, uniform(users), 200, args.preload_concurrency, rng, progress, "history seed"
            )
            started = time.perf_counter()
            await clone_history(stack.mongo_url, stack.database_prefix, args.history, say)
            say(
                f"history of {args.history} transfers written in {time.perf_counter() - started:.1f} s"
            )

        if receiver is not None:
            receiver.start()
        try:
            if receiver is not None:
                url = receiver.url("/bench")
                say(f"webhook endpoints (all events) for {len(bench.bench_users)} users -> {url}")
                await gather_bounded(8, [subscribe(client, u, url) for u in bench.bench_users])
                bench.tracker = WebhookTracker(receiver)
            results = []
            for scenario in args.scenarios:
                pick = (
                    uniform(users)
                    if scenario == "uniform"
                    else hot_sender(users[0], receivers or users[1:])
                )
                for concurrency in args.concurrency:
                    results.append(await bench.run(scenario, pick, concurrency))
            return results
        finally:
            if receiver is not None:
                receiver.stop()


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def report(
    args: argparse.Namespace, results: Sequence[dict[str, Any]], meta: dict[str, Any]
) -> str:
    receivers = f" + {args.receivers} receivers" if "hot-sender" in args.scenarios else ""
    webhooks = (
        "off"
        if args.no_webhook
        else f"on (1 endpoint per user, so {ENDPOINTS_PER_TRANSFER} per transfer)"
    )
    lines = [
        f"make bench: {meta['stores']}, {meta['cpus']} CPUs, commit {meta['commit']}; "
        f"{args.users} users{receivers}; {args.transfers} transfers per run after "
        f"{args.warmup} warm-up; webhooks {webhooks}"
    ]
    if args.preload:
        lines.append(f"All figures are after {args.preload} preloaded transfers of history.")
    if args.history:
        lines.append(
            f"All figures are after {args.history} past transfers' documents in every store."
        )
    lines.append(
        "CPU and command counts cover the measured transfers"
        + ("" if args.no_webhook else " and the delivery of their webhooks")
        + "; loadgen = this process (the clients and the webhook receiver)."
    )
    for scenario in args.scenarios:
        runs = [r for r in results if r["scenario"] == scenario]
        if not runs:
            continue
        title = f"{scenario}" + (f" (after {args.preload} preloaded)" if args.preload else "")
        lines += [
            "",
            render_table(
                title, [f"C={r['concurrency']}" for r in runs], scenario_rows(runs, PROCESS_ORDER)
            ),
        ]
        for run in runs:
            if run["errors"]["by_kind"]:
                lines.append(f"errors C={run['concurrency']}: {run['errors']['by_kind']}")
    return "\n".join(lines)


@contextlib.contextmanager
def stores(
    args: argparse.Namespace, work: Path
) -> Iterator[tuple[str, str, int | None, int | None, str]]:
    with contextlib.ExitStack() as exit_stack:
        mongo_url, mongo_pid, kinds = args.mongo_url, None, []
        if not mongo_url:
            mongo: EmbeddedStore = start_embedded_mongo(work / "stores")
            exit_stack.callback(mongo.stop)
            mongo_url, mongo_pid = mongo.url, mongo.process.pid
            kinds.append("mongo=nx-27017")
        else:
            kinds.append("mongo=external")
        redis_url, redis_pid = args.redis_url, None
        if not redis_url:
            redis = start_embedded_redis(work / "stores")
            exit_stack.callback(redis.stop)
            redis_url, redis_pid = redis.url, redis.process.pid
            kinds.append("redis=embedded")
        else:
            kinds.append("redis=external")
        yield mongo_url, redis_url, mongo_pid, redis_pid, " ".join(kinds)


def _git_commit() -> str | None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if done.returncode == 0:
            return done.stdout.strip()
    return None


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="payflow-bench-") as tmp:
        work = Path(tmp)
        with stores(args, work) as (mongo_url, redis_url, mongo_pid, redis_pid, kinds):
            say(f"stores: {kinds}; starting {len(SERVICE_MODULES)} services")
            with ServiceStack(
                mongo_url=mongo_url,
                redis_url=redis_url,
                work_dir=work / "stack",
                extra_env=BENCH_ENV,
            ) as stack:
                watched = [Watched(name, stack.processes[name].pid) for name in stack.services]
                watched += [
                    Watched("mongo", mongo_pid),
                    Watched("redis", redis_pid),
                    Watched("loadgen", os.getpid(), with_children=False),
                ]
                results = asyncio.run(bench_main(args, stack, redis_url, watched))
    meta = {
        "stores": kinds,
        "cpus": os.cpu_count(),
        "clock_ticks": CLOCK_TICKS,
        "commit": _git_commit(),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "endpoints_per_transfer": 0 if args.no_webhook else ENDPOINTS_PER_TRANSFER,
    }
    print(report(args, results, meta))
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "runs": results}, indent=2))
        say(f"raw figures written to {args.json}")
