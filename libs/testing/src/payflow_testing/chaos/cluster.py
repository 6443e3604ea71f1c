"""The system of a chaos run: restartable stores and N replicas of every service, each replica
its own OS process on its own port.

Replicas share the stores, the database names and the consumer groups (a replica's
`PAYFLOW_SERVICE_NAME` is its service's, so it opens the same database; its consumer name has its
pid). Internal services are reached through one balancer each (`balancer.py`); the gateways are
reached directly, the load generator choosing one per request. Every process can be killed with
SIGKILL, paused with SIGSTOP and resumed, and restarted on the same port; Redis and the
MongoDB-protocol server can be killed and restarted on the same port and data directory.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx

from payflow_devstack.stores import mongo_command, new_secret, redis_command, wait_for_port
from payflow_testing.chaos.balancer import Balancers
from payflow_testing.chaos.schedule import SERVICES, service_of
from payflow_testing.stack import BUS_SERVICES, SERVICE_MODULES

BALANCED = ("orchestrator", "wallet", "ledger", "webhooks")
"""The services the gateway calls over internal HTTP (through a balancer each)."""


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ports:
            return int(ports.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


class PortPool:
    """Listening ports for processes that are restarted on the same port, taken below the
    kernel's ephemeral range: a port bound with port 0 (a balancer, anything else on the
    machine) or the local end of an outgoing connection may take a port in that range while its
    process is down, and the restart would find it in use."""

    def __init__(self, low: int = 20_000) -> None:
        self._low = low
        self._high = max(low + 1_000, _ephemeral_low())
        self._given: set[int] = set()
        self._rng = random.SystemRandom()

    def take(self) -> int:
        for _ in range(1_000):
            port = self._rng.randrange(self._low, self._high)
            if port in self._given:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    continue
            self._given.add(port)
            return port
        raise RuntimeError(f"no free port between {self._low} and {self._high}")


def _spawn(
    command: list[str], log_path: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 - the child owns it for its lifetime
    try:
        return subprocess.Popen(
            command,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        log.close()


def _kill_group(process: subprocess.Popen[bytes] | None, sig: int) -> None:
    if process is not None and process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)


@dataclass
class Store:
    """Redis or the MongoDB-protocol server: one port, one data directory, restartable."""

    name: str
    port: int
    command: list[str]
    log_path: Path
    pid_file: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    def start(self) -> None:
        if self.pid_file is not None:
            # A SIGKILLed server leaves its pid file; its pid may be reused by then.
            self.pid_file.unlink(missing_ok=True)
        self.process = _spawn(self.command, self.log_path)
        wait_for_port(self.port, timeout=60, process=self.process)

    def crash(self) -> None:
        """SIGKILL: nothing is flushed or closed beyond what the server already did."""
        _kill_group(self.process, signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=10)

    def restart(self) -> None:
        self.crash()
        self.restarts += 1
        self.start()

    def stop(self) -> None:
        _kill_group(self.process, signal.SIGTERM)
        if self.process is not None:
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                _kill_group(self.process, signal.SIGKILL)
                self.process.wait(timeout=5)


@dataclass
class Replica:
    name: str
    """`wallet#2`"""
    service: str
    port: int
    log_path: Path
    run_dir: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    paused: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class ChaosCluster:
    work_dir: Path
    replicas: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    prefix: str = field(default_factory=lambda: f"chaos{secrets.token_hex(3)}")
    internal_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    redis_password: str = field(default_factory=new_secret)
    bus_signing_key: str = field(default_factory=new_secret)
    processes: dict[str, Replica] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        logs = self.work_dir / "logs"
        ports = PortPool()
        mongo_port, redis_port = ports.take(), ports.take()
        mongo_dir = self.work_dir / "mongo"
        self.mongo = Store(
            "mongo",
            mongo_port,
            mongo_command(mongo_port, mongo_dir, logs / "mongo.log"),
            logs / "mongo.out",
            pid_file=mongo_dir / "nx.pid",
        )
        self.redis = Store(
            "redis",
            redis_port,
            redis_command(redis_port, self.work_dir / "redis", self.redis_password),
            logs / "redis.log",
        )
        for service in SERVICES:
            for n in range(1, self.replicas + 1):
                name = f"{service}#{n}"
                slug = f"{service}-{n}"
                self.processes[name] = Replica(
                    name=name,
                    service=service,
                    port=ports.take(),
                    log_path=logs / f"{slug}.log",
                    run_dir=self.work_dir / "run" / slug,
                )
        self.balancers = Balancers(
            {
                service: [r.port for r in self.processes.values() if r.service == service]
                for service in BALANCED
            }
        )

    # ------------------------------------------------------------------ addresses

    @property
    def mongo_url(self) -> str:
        return f"mongodb://127.0.0.1:{self.mongo.port}"

    @property
    def redis_url(self) -> str:
        """With the password: for the invariant checker's own reads."""
        return f"redis://:{quote(self.redis_password, safe='')}@127.0.0.1:{self.redis.port}/0"

    def of_service(self, service: str) -> list[Replica]:
        return [r for r in self.processes.values() if r.service == service]

    @property
    def gateway_urls(self) -> list[str]:
        return [r.url for r in self.of_service("gateway")]

    def database(self, service: str) -> str:
        return f"{self.prefix}_{service}"

    # ------------------------------------------------------------------ lifecycle

    def environment(self, replica: Replica) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PAYFLOW_") and not k.startswith("OTEL_")
        }
        env.update(
            {
                "PAYFLOW_ENV": "test",
                "PAYFLOW_MONGO_URL": self.mongo_url,
                "PAYFLOW_REDIS_URL": f"redis://127.0.0.1:{self.redis.port}/0",
                "PAYFLOW_REDIS_PASSWORD": self.redis_password,
                "PAYFLOW_DATABASE_PREFIX": self.prefix,
                "PAYFLOW_STREAM_PREFIX": self.prefix,
                "PAYFLOW_INTERNAL_TOKEN": self.internal_token,
                "PAYFLOW_RUN_DIR": str(replica.run_dir),
                "PAYFLOW_SERVICE_NAME": replica.service,
                "PYTHONUNBUFFERED": "1",
            }
        )
        for service in BALANCED:
            env[f"PAYFLOW_{service.upper()}_URL"] = self.balancers.url(service)
        env[f"PAYFLOW_{replica.service.upper().replace('-', '_')}_PORT"] = str(replica.port)
        if replica.service in BUS_SERVICES:
            env["PAYFLOW_BUS_SIGNING_KEYS"] = self.bus_signing_key
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 120.0) -> None:
        self.mongo.start()
        self.redis.start()
        self.balancers.start()
        for replica in self.processes.values():
            self.spawn(replica.name)
        deadline = time.monotonic() + timeout
        for name in self.processes:
            self.wait_ready(name, timeout=max(1.0, deadline - time.monotonic()))

    def spawn(self, name: str) -> None:
        replica = self.processes[name]
        replica.paused = False
        replica.process = _spawn(
            [sys.executable, "-m", SERVICE_MODULES[replica.service]],
            replica.log_path,
            self.environment(replica),
        )

    def is_ready(self, name: str, timeout: float = 2.0) -> bool:
        replica = self.processes[name]
        if not replica.alive or replica.paused:
            return False
        try:
            return httpx.get(f"{replica.url}/readyz", timeout=timeout).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, name: str, timeout: float = 60.0) -> None:
        replica = self.processes[name]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if replica.process is not None and replica.process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {replica.process.returncode}:\n{self.log_tail(name)}"
                )
            if self.is_ready(name):
                return
            time.sleep(0.2)
        raise TimeoutError(f"{name} not ready after {timeout:.0f}s:\n{self.log_tail(name)}")

    def kill(self, name: str) -> None:
        """SIGKILL (of a paused process too): no shutdown hook runs, as in a real crash."""
        replica = self.processes[name]
        _kill_group(replica.process, signal.SIGKILL)
        if replica.process is not None:
            replica.process.wait(timeout=10)
        replica.paused = False

    def restart(self, name: str) -> None:
        self.kill(name)
        self.processes[name].restarts += 1
        self.spawn(name)

    def pause(self, name: str) -> None:
        replica = self.processes[name]
        _kill_group(replica.process, signal.SIGSTOP)
        replica.paused = True

    def resume(self, name: str) -> None:
        replica = self.processes[name]
        _kill_group(replica.process, signal.SIGCONT)
        replica.paused = False

    def stop(self) -> None:
        for replica in self.processes.values():
            if replica.paused:
                _kill_group(replica.process, signal.SIGCONT)
            _kill_group(replica.process, signal.SIGTERM)
        for replica in self.processes.values():
            if replica.process is None:
                continue
            try:
                replica.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                _kill_group(replica.process, signal.SIGKILL)
                replica.process.wait(timeout=5)
        self.balancers.stop()
        self.redis.stop()
        self.mongo.stop()

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.processes[name].log_path
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def replica_of(self, name: str) -> Replica:
        return self.processes[name]

    def service_of(self, name: str) -> str:
        return service_of(name)
