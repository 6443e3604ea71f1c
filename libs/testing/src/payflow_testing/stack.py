"""Runs the real PayFlow service processes for end-to-end tests, each its own OS process.

The stack can kill any process with SIGKILL (a real crash: no shutdown hooks run) and start it
again, which is how the crash-recovery guarantees are tested.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from payflow_devstack.stores import free_port, new_secret

SERVICE_MODULES: dict[str, str] = {
    "wallet": "payflow_wallet",
    "ledger": "payflow_ledger",
    "orchestrator": "payflow_orchestrator",
    "webhooks": "payflow_webhooks",
    "webhooks-worker": "payflow_webhooks.worker",
    "gateway": "payflow_gateway",
}
# The processes that hold the saga bus's signing key (payflow_messaging.signing).
BUS_SERVICES = frozenset({"wallet", "ledger", "orchestrator", "webhooks"})


@dataclass
class ServiceProcess:
    name: str
    module: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None


@dataclass
class ServiceStack:
    mongo_url: str
    redis_url: str
    work_dir: Path
    services: tuple[str, ...] = tuple(SERVICE_MODULES)
    extra_env: dict[str, str] = field(default_factory=dict)
    database_prefix: str = field(default_factory=lambda: f"e2e{secrets.token_hex(3)}")
    internal_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    bus_signing_key: str = field(default_factory=new_secret)
    processes: dict[str, ServiceProcess] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        for name in self.services:
            self.processes[name] = ServiceProcess(
                name=name,
                module=SERVICE_MODULES[name],
                port=free_port(),
                log_path=self.work_dir / f"{name}.log",
            )

    @property
    def run_dir(self) -> Path:
        return self.work_dir / "run"

    def url(self, name: str) -> str:
        return self.processes[name].url

    def environment(self, name: str | None = None) -> dict[str, str]:
        """What process `name` is started with. Redis's password goes in `PAYFLOW_REDIS_PASSWORD`
        (the URL without it), so that the URL form is left to the in-process tests; only the
        processes on the bus get its key."""
        parts = urlsplit(self.redis_url)
        redis_url = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PAYFLOW_") and not k.startswith("OTEL_")
        }
        env.update(
            {
                "PAYFLOW_ENV": "test",
                "PAYFLOW_MONGO_URL": self.mongo_url,
                "PAYFLOW_REDIS_URL": redis_url,
                "PAYFLOW_DATABASE_PREFIX": self.database_prefix,
                "PAYFLOW_STREAM_PREFIX": self.database_prefix,
                "PAYFLOW_INTERNAL_TOKEN": self.internal_token,
                "PAYFLOW_RUN_DIR": str(self.run_dir),
                "PYTHONUNBUFFERED": "1",
            }
        )
        for other, proc in self.processes.items():
            key = other.upper().replace("-", "_")
            env[f"PAYFLOW_{key}_PORT"] = str(proc.port)
            env[f"PAYFLOW_{key}_URL"] = proc.url
        if parts.password is not None:
            env["PAYFLOW_REDIS_PASSWORD"] = unquote(parts.password)
        if name is None or name in BUS_SERVICES:
            env["PAYFLOW_BUS_SIGNING_KEYS"] = self.bus_signing_key
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 90.0) -> None:
        for name in self.services:
            self._spawn(name)
        for name in self.services:
            self.wait_ready(name, timeout=timeout)

    def _spawn(self, name: str) -> None:
        proc = self.processes[name]
        log = open(proc.log_path, "ab")  # noqa: SIM115 - owned by the child
        env = self.environment(name)
        env["PAYFLOW_SERVICE_NAME"] = name
        proc.process = subprocess.Popen(
            [sys.executable, "-m", proc.module],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def wait_ready(self, name: str, timeout: float = 60.0) -> None:
        proc = self.processes[name]
        deadline = time.monotonic() + timeout
        last_error = "never answered"
        while time.monotonic() < deadline:
            if proc.process is not None and proc.process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {proc.process.returncode}; log tail:\n{self.log_tail(name)}"
                )
            try:
                response = httpx.get(f"{proc.url}/readyz", timeout=2)
                if response.status_code == 200:
                    return
                last_error = response.text
            except httpx.HTTPError as exc:
                last_error = repr(exc)
            time.sleep(0.2)
        raise TimeoutError(
            f"{name} not ready after {timeout}s: {last_error}\n{self.log_tail(name)}"
        )

    def kill(self, name: str) -> None:
        """SIGKILL: the process gets no chance to clean up, as in a real crash."""
        proc = self.processes[name]
        if proc.process is not None and proc.process.poll() is None:
            os.killpg(proc.process.pid, signal.SIGKILL)
            proc.process.wait(timeout=10)

    def restart(self, name: str, timeout: float = 60.0) -> None:
        self.kill(name)
        self.processes[name].restarts += 1
        self._spawn(name)
        self.wait_ready(name, timeout=timeout)

    def stop(self) -> None:
        for name in reversed(self.services):
            proc = self.processes[name].process
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for name in self.services:
            proc = self.processes[name].process
            if proc is None:
                continue
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.processes[name].log_path
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> ServiceStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
