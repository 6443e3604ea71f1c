"""`make run`: every process of the system under supervisord, on the embedded stores.

Why supervisord: it restarts a process that dies (a `kill -9` included), starts programs in
priority order, stops whole process groups, and runs in the foreground so Ctrl-C stops everything.
honcho (Procfile) stops the whole set when one process dies, which is the opposite of what we need.

Secrets: Redis's password and the saga bus's signing key come from `PAYFLOW_REDIS_PASSWORD` and
`PAYFLOW_BUS_SIGNING_KEYS` when set, else from `.payflow/redis-password` and
`.payflow/bus-signing-key`, made (random, mode 0600) on the first run. The bus key goes only to the
processes on the bus; `supervisord.conf`, which holds them, is mode 0600 too.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from payflow_devstack.stores import (
    mongo_command,
    pid_alive,
    read_or_create_secret,
    redis_command,
    write_private_file,
)

SERVICES: dict[str, tuple[str, int]] = {
    "gateway": ("payflow_gateway", 8000),
    "orchestrator": ("payflow_orchestrator", 8001),
    "wallet": ("payflow_wallet", 8002),
    "ledger": ("payflow_ledger", 8003),
    "webhooks": ("payflow_webhooks", 8004),
    "webhooks-worker": ("payflow_webhooks.worker", 8005),
}
# The processes on the saga bus (Redis Streams), which sign and verify its messages: not the
# gateway (it faces the internet) nor the webhooks worker (it sends HTTP requests to URLs that
# users choose).
BUS_SERVICES = frozenset({"orchestrator", "wallet", "ledger", "webhooks"})


def service_port(name: str) -> int:
    env = f"PAYFLOW_{name.upper().replace('-', '_')}_PORT"
    return int(os.environ.get(env, SERVICES[name][1]))


def _quoted(value: str) -> str:
    """A value of supervisord's `environment=` line: quoted, `%` doubled (its expansions)."""
    if any(c in value for c in '"\r\n'):
        raise ValueError("an environment value for supervisord must not hold quotes or newlines")
    return '"' + value.replace("%", "%%") + '"'


def _program(name: str, command: list[str], logs: Path, priority: int, env: dict[str, str]) -> str:
    environment = ",".join(f"{k}={_quoted(v)}" for k, v in sorted(env.items()))
    return f"""
[program:{name}]
command={shlex.join(command)}
directory={Path.cwd()}
priority={priority}
autostart=true
autorestart=true
startsecs=2
startretries=1000
stopsignal=TERM
stopwaitsecs=10
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile={logs / (name + ".log")}
stdout_logfile_maxbytes=20MB
stdout_logfile_backups=2
environment={environment}
"""


def write_config(root: Path) -> tuple[Path, dict[str, str]]:
    run_dir = root / "run"
    logs = root / "logs"
    data = root / "data"
    for folder in (run_dir, logs, data):
        folder.mkdir(parents=True, exist_ok=True)
    mongo_port = int(os.environ.get("PAYFLOW_EMBEDDED_MONGO_PORT", "37017"))
    redis_port = int(os.environ.get("PAYFLOW_EMBEDDED_REDIS_PORT", "6380"))
    redis_password = os.environ.get("PAYFLOW_REDIS_PASSWORD") or read_or_create_secret(
        root / "redis-password"
    )
    bus_keys = os.environ.get("PAYFLOW_BUS_SIGNING_KEYS") or read_or_create_secret(
        root / "bus-signing-key"
    )
    env = {
        "PAYFLOW_MONGO_URL": os.environ.get(
            "PAYFLOW_MONGO_URL", f"mongodb://127.0.0.1:{mongo_port}"
        ),
        "PAYFLOW_REDIS_URL": os.environ.get(
            "PAYFLOW_REDIS_URL", f"redis://127.0.0.1:{redis_port}/0"
        ),
        "PAYFLOW_REDIS_PASSWORD": redis_password,
        "PAYFLOW_RUN_DIR": str(run_dir),
        "PAYFLOW_ENV": os.environ.get("PAYFLOW_ENV", "development"),
        "PYTHONUNBUFFERED": "1",
    }
    pidexec = [sys.executable, "-m", "payflow_devstack.pidexec", str(run_dir)]
    sections = [
        f"""[supervisord]
nodaemon=true
logfile={logs / "supervisord.log"}
pidfile={run_dir / "supervisord.pid"}
childlogdir={logs}
loglevel=warn

[unix_http_server]
file={run_dir / "supervisor.sock"}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{run_dir / "supervisor.sock"}
""",
        _program(
            "mongo",
            [
                *pidexec,
                "mongo",
                "--",
                *mongo_command(mongo_port, data / "mongo", logs / "nx-27017.log"),
            ],
            logs,
            1,
            {},
        ),
        _program(
            "redis",
            [
                *pidexec,
                "redis",
                "--",
                *redis_command(redis_port, data / "redis", redis_password),
            ],
            logs,
            1,
            {},
        ),
    ]
    for name, (module, _port) in SERVICES.items():
        program_env = {**env, "PAYFLOW_SERVICE_NAME": name}
        if name in BUS_SERVICES:
            program_env["PAYFLOW_BUS_SIGNING_KEYS"] = bus_keys
        sections.append(_program(name, [sys.executable, "-m", module], logs, 10, program_env))
    config = root / "supervisord.conf"
    write_private_file(config, "\n".join(sections))
    return config, {"mongo": env["PAYFLOW_MONGO_URL"], "redis": env["PAYFLOW_REDIS_URL"]}


def run() -> int:
    root = Path(".payflow").resolve()
    config, stores = write_config(root)
    print(
        "PayFlow is starting (Ctrl-C stops everything). Logs: .payflow/logs/, pids: .payflow/run/"
    )
    print(f"  mongo (nx-27017)  {stores['mongo']}")
    print(f"  redis             {stores['redis']}  (password: .payflow/redis-password)")
    for name in SERVICES:
        port = service_port(name)
        extra = "  (public API, docs at /docs)" if name == "gateway" else ""
        print(f"  {name:<17} http://127.0.0.1:{port}{extra}")
    sys.stdout.flush()
    supervisord = subprocess.Popen(
        [sys.executable, "-m", "supervisor.supervisord", "-c", str(config)],
        start_new_session=True,
    )

    def _stop(_signum: int, _frame: object) -> None:
        if supervisord.poll() is None:
            supervisord.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    code = supervisord.wait()
    _remove_stale_pid_files(root / "run")
    print("PayFlow stopped.")
    return 0 if code in (0, -signal.SIGTERM) else code


def _remove_stale_pid_files(run_dir: Path) -> None:
    deadline = time.monotonic() + 5
    for pid_file in run_dir.glob("*.pid"):
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            continue
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not pid_alive(pid):
            pid_file.unlink(missing_ok=True)
