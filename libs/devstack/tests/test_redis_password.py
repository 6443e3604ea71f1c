"""The Redis of `make run` and of the tests requires a password, kept off command lines, and a
client without it (or with another) is refused."""

from __future__ import annotations

import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from payflow_devstack.stores import (
    EmbeddedStore,
    free_port,
    redis_command,
    start_embedded_redis,
    wait_for_port,
)
from payflow_devstack.supervisor import BUS_SERVICES, SERVICES, write_config

pytestmark = pytest.mark.integration


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def assert_password_required(port: int, password: str) -> None:
    anonymous = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
    with pytest.raises(redis.AuthenticationError):
        anonymous.set("k", "v")
    wrong = redis.Redis(host="127.0.0.1", port=port, password="not-it", socket_timeout=5)
    with pytest.raises(redis.AuthenticationError):
        wrong.ping()
    right = redis.Redis(host="127.0.0.1", port=port, password=password, socket_timeout=5)
    assert right.ping()
    for client in (anonymous, wrong, right):
        client.close()


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[EmbeddedStore]:
    server = start_embedded_redis(tmp_path)
    yield server
    server.stop()


def test_the_embedded_redis_refuses_a_client_without_its_password(
    embedded: EmbeddedStore,
) -> None:
    password = embedded.extra["password"]
    assert len(password) == 64
    assert f":{password}@" in embedded.url
    assert_password_required(embedded.port, password)
    assert redis.Redis.from_url(embedded.url).ping()


def test_the_password_is_in_a_private_file_and_on_no_command_line(
    embedded: EmbeddedStore,
) -> None:
    (config,) = embedded.data_dir.glob("*.conf")
    assert mode(config) == 0o600
    assert embedded.extra["password"] in config.read_text()
    cmdline = Path(f"/proc/{embedded.process.pid}/cmdline")
    if cmdline.exists():
        assert embedded.extra["password"].encode() not in cmdline.read_bytes()


def test_make_run_makes_its_secrets_once_and_gives_the_bus_key_only_to_the_bus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PAYFLOW_REDIS_PASSWORD", "PAYFLOW_BUS_SIGNING_KEYS", "PAYFLOW_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    port = free_port()
    monkeypatch.setenv("PAYFLOW_EMBEDDED_REDIS_PORT", str(port))
    root = tmp_path / ".payflow"
    config, stores = write_config(root)
    password = (root / "redis-password").read_text().strip()
    bus_key = (root / "bus-signing-key").read_text().strip()
    assert len(password) == 64 and len(bus_key) == 64 and password != bus_key
    for secret_file in (root / "redis-password", root / "bus-signing-key", config):
        assert mode(secret_file) == 0o600, secret_file
    assert password not in stores["redis"]

    sections = {
        block.split("]", 1)[0]: block for block in config.read_text().split("\n[program:")[1:]
    }
    for name in SERVICES:
        environment = next(
            line for line in sections[name].splitlines() if line.startswith("environment=")
        )
        assert f'PAYFLOW_REDIS_PASSWORD="{password}"' in environment
        assert (f'PAYFLOW_BUS_SIGNING_KEYS="{bus_key}"' in environment) == (name in BUS_SERVICES)
    assert {"orchestrator", "wallet", "ledger", "webhooks"} == BUS_SERVICES

    # The Redis program make run starts: its command carries no password, and it requires one.
    command_line = next(
        line for line in sections["redis"].splitlines() if line.startswith("command=")
    )
    assert password not in command_line
    redis_argv = command_line.removeprefix("command=").split(" -- ", 1)[1].split()
    server = subprocess.Popen(redis_argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process=server)
        assert_password_required(port, password)
    finally:
        server.terminate()
        server.wait(timeout=10)

    # A second run keeps the secrets; the environment's win over the files.
    write_config(root)
    assert (root / "redis-password").read_text().strip() == password
    monkeypatch.setenv("PAYFLOW_REDIS_PASSWORD", "from-the-environment")
    config, _ = write_config(root)
    assert 'PAYFLOW_REDIS_PASSWORD="from-the-environment"' in config.read_text()


def test_a_redis_password_that_the_config_file_cannot_hold_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="quotes, backslashes or white space"):
        redis_command(free_port(), tmp_path, 'with "quotes"')
    assert not list(tmp_path.glob("*.conf"))
