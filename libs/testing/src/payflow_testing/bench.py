"""`make bench`: end-to-end throughput and latency of transfers on the real processes.

Starts the stores (as the tests do) and every service, registers users, funds them, then runs a
fixed number of transfers with bounded concurrency. Prints the figures; asserts nothing about them
(performance is measured here, never in a timed test).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from payflow_testing.stack import ServiceStack
from payflow_testing.stores import provide_stores

BENCH_ENV = {"PAYFLOW_BCRYPT_ROUNDS": "4", "PAYFLOW_LOG_LEVEL": "WARNING"}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _user(client: httpx.AsyncClient, i: int) -> tuple[dict[str, str], str]:
    email = f"bench-{i}-{uuid.uuid4().hex[:6]}@example.com"
    created = await client.post(
        "/v1/auth/register",
        json={"email": email, "password": "bench-password-123", "name": f"b{i}"},
    )
    created.raise_for_status()
    login = await client.post(
        "/v1/auth/login", json={"email": email, "password": "bench-password-123"}
    )
    login.raise_for_status()
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    return headers, created.json()["wallet"]["id"]


async def _run(gateway: str, users: int, transfers: int, concurrency: int) -> None:
    limits = httpx.Limits(max_connections=concurrency + 10)
    async with httpx.AsyncClient(base_url=gateway, timeout=60, limits=limits) as client:
        people = [await _user(client, i) for i in range(users)]
        for headers, wallet in people:
            funded = await client.post(
                f"/v1/wallets/{wallet}/top-ups",
                json={"amount": 1_000_000},
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex, "Prefer": "wait=10"},
            )
            funded.raise_for_status()
        rng = random.Random(1)
        gate = asyncio.Semaphore(concurrency)
        accept: list[float] = []
        settle: list[float] = []

        async def one() -> str:
            (headers, source), (_, destination) = rng.sample(people, 2)
            async with gate:
                started = time.perf_counter()
                response = await client.post(
                    "/v1/transfers",
                    json={
                        "source_wallet_id": source,
                        "destination_wallet_id": destination,
                        "amount": rng.randint(1, 100),
                        "currency": "USD",
                    },
                    headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
                )
                accept.append(time.perf_counter() - started)
                response.raise_for_status()
                transfer_id = response.json()["id"]
                while True:
                    state = await client.get(f"/v1/transfers/{transfer_id}", headers=headers)
                    if state.json()["status"] in ("completed", "failed"):
                        break
                    await asyncio.sleep(0.02)
                settle.append(time.perf_counter() - started)
                return str(state.json()["status"])

        began = time.perf_counter()
        outcomes = await asyncio.gather(*(one() for _ in range(transfers)))
        elapsed = time.perf_counter() - began

    print(
        f"transfers: {transfers} ({outcomes.count('completed')} completed), concurrency {concurrency}"
    )
    print(f"wall time: {elapsed:.2f} s, throughput: {transfers / elapsed:.1f} transfers/s")
    for name, values in (("accept (POST 202)", accept), ("settle (to terminal)", settle)):
        print(
            f"{name:<22} p50 {statistics.median(values) * 1000:7.1f} ms  "
            f"p95 {_percentile(values, 0.95) * 1000:7.1f} ms  "
            f"p99 {_percentile(values, 0.99) * 1000:7.1f} ms  max {max(values) * 1000:7.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--transfers", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="payflow-bench-") as tmp:
        work = Path(tmp)
        with provide_stores(work / "stores") as stores:
            print(f"stores: mongo={stores.mongo_kind} redis={stores.redis_kind}")
            with ServiceStack(
                mongo_url=stores.mongo_url,
                redis_url=stores.redis_url,
                work_dir=work / "stack",
                extra_env=BENCH_ENV,
            ) as stack:
                asyncio.run(
                    _run(stack.url("gateway"), args.users, args.transfers, args.concurrency)
                )


if __name__ == "__main__":
    main()
