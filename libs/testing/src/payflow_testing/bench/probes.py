"""What the bench reads from the running system besides the public API: CPU ticks of processes
from /proc, the store-command counters of each service's /metrics, Redis `INFO commandstats`."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis

from payflow_testing.bench.figures import (
    ProcStat,
    parse_commandstats,
    parse_proc_stat,
    tree_ticks,
)

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def read_all_proc_stats() -> dict[int, ProcStat]:
    """Every process visible in /proc (those that vanish while being read are skipped)."""
    stats: dict[int, ProcStat] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stats[int(entry.name)] = parse_proc_stat((entry / "stat").read_text())
        except (OSError, ValueError, IndexError):
            continue
    return stats


@dataclass(frozen=True)
class Watched:
    """A process whose CPU the bench measures; `with_children` adds its live descendants (the
    load generator is the parent of every service, so it counts only itself)."""

    name: str
    pid: int | None
    with_children: bool = True


def cpu_ticks(watched: list[Watched]) -> dict[str, int | None]:
    stats = read_all_proc_stats()
    return {
        w.name: None if w.pid is None else tree_ticks(w.pid, stats, with_children=w.with_children)
        for w in watched
    }


async def scrape_metrics(
    client: httpx.AsyncClient, urls: Mapping[str, str]
) -> dict[str, str | None]:
    """Each service's /metrics page (None when it does not answer)."""

    async def one(url: str) -> str | None:
        try:
            response = await client.get(f"{url}/metrics", timeout=10)
        except httpx.HTTPError:
            return None
        return response.text if response.status_code == 200 else None

    names = list(urls)
    pages = await asyncio.gather(*(one(urls[name]) for name in names))
    return dict(zip(names, pages, strict=True))


def redis_commandstats(url: str) -> dict[str, float] | None:
    try:
        client = redis.Redis.from_url(url, socket_timeout=5)
        try:
            info: dict[str, Any] = client.info("commandstats")  # type: ignore[assignment]
        finally:
            client.close()
    except redis.RedisError:
        return None
    return parse_commandstats(info)
