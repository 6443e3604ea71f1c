"""`make run` as a user sees it: every process up, a killed one replaced, Ctrl-C leaves nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis

from payflow_devstack.stores import free_port, pid_alive

pytestmark = pytest.mark.e2e

SERVICES = ("gateway", "orchestrator", "wallet", "ledger", "webhooks", "webhooks-worker")
PROCESSES = (*SERVICES, "mongo", "redis")


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def money_moves_over_the_signed_bus(root: Path, gateway_port: int, redis_port: int) -> None:
    """make run made its Redis password and bus key (mode 0600), its Redis refuses a client
    without the password, and a top-up completes: its saga's messages are signed and accepted."""
    for secret in ("redis-password", "bus-signing-key"):
        assert (root / ".payflow" / secret).stat().st_mode & 0o777 == 0o600, secret
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=redis_port, socket_timeout=5).get("anything")
    gateway = f"http://127.0.0.1:{gateway_port}"
    user = {"email": "make-run@example.com", "password": "correct-horse-battery", "name": "M"}
    registered = httpx.post(f"{gateway}/v1/auth/register", json=user, timeout=30)
    assert registered.status_code == 201, registered.text
    credentials = {"email": user["email"], "password": user["password"]}
    login = httpx.post(f"{gateway}/v1/auth/login", json=credentials, timeout=30).json()
    top_up = httpx.post(
        f"{gateway}/v1/wallets/{registered.json()['wallet']['id']}/top-ups",
        json={"amount": 500},
        headers={
            "Authorization": f"Bearer {login['access_token']}",
            "Idempotency-Key": "make-run-1",
            "Prefer": "wait=20",
        },
        timeout=30,
    )
    assert top_up.status_code == 200, top_up.text
    assert top_up.json()["status"] == "completed", top_up.json()


def test_make_run_starts_everything_restarts_a_killed_service_and_stops_cleanly(
    tmp_path: Path,
) -> None:
    ports = {name: free_port() for name in SERVICES}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYFLOW_")}
    env.update({f"PAYFLOW_{n.upper().replace('-', '_')}_PORT": str(p) for n, p in ports.items()})
    env["PAYFLOW_EMBEDDED_MONGO_PORT"] = str(free_port())
    env["PAYFLOW_EMBEDDED_REDIS_PORT"] = str(free_port())
    for name, port in ports.items():
        env[f"PAYFLOW_{name.upper().replace('-', '_')}_URL"] = f"http://127.0.0.1:{port}"
    runner = subprocess.Popen(
        [sys.executable, "-m", "payflow_devstack", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    run_dir = tmp_path / ".payflow" / "run"
    seen_pids: set[int] = set()
    try:
        deadline = time.monotonic() + 90
        ready: set[str] = set()
        while time.monotonic() < deadline and ready != set(SERVICES):
            for name, port in ports.items():
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                        ready.add(name)
                except httpx.HTTPError:
                    pass
            time.sleep(0.5)
        assert ready == set(SERVICES), f"not ready: {set(SERVICES) - ready}"
        pids = {name: _read_pid(run_dir / f"{name}.pid") for name in PROCESSES}
        assert all(pid and pid_alive(pid) for pid in pids.values()), pids
        seen_pids.update(pid for pid in pids.values() if pid)
        money_moves_over_the_signed_bus(
            tmp_path, ports["gateway"], int(env["PAYFLOW_EMBEDDED_REDIS_PORT"])
        )

        victim = pids["wallet"]
        assert victim is not None
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 10
        replacement = victim
        while time.monotonic() < deadline:
            replacement = _read_pid(run_dir / "wallet.pid") or victim
            if replacement != victim and pid_alive(replacement):
                break
            time.sleep(0.2)
        assert replacement != victim, "no new wallet process within 10 s"
        assert pid_alive(replacement)
        seen_pids.add(replacement)
    finally:
        os.killpg(runner.pid, signal.SIGINT)
        output, _ = runner.communicate(timeout=60)
    text = output.decode(errors="replace")
    assert "http://127.0.0.1:" in text  # the URLs were printed
    assert "PayFlow stopped." in text
    time.sleep(0.5)
    survivors = [pid for pid in seen_pids if pid_alive(pid)]
    assert survivors == [], f"processes left running: {survivors}"
