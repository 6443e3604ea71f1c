"""Run one service process under uvicorn, keeping its pid file current."""

from __future__ import annotations

import atexit
import contextlib
import os
from pathlib import Path

import uvicorn

from payflow_settings import ServiceSettings


def write_pid_file(run_dir: Path, name: str) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / f"{name}.pid"
    tmp = path.with_suffix(".pid.tmp")
    tmp.write_text(f"{os.getpid()}\n")
    tmp.replace(path)
    pid = os.getpid()

    def _remove() -> None:
        # Only our own pid file: a restarted process may already have replaced it.
        with contextlib.suppress(OSError, ValueError):
            if int(path.read_text().strip()) == pid:
                path.unlink()

    atexit.register(_remove)
    return path


def serve(app_factory: str, name: str, settings: ServiceSettings) -> None:
    """`app_factory` is "module:function"; uvicorn builds the app in this process."""
    write_pid_file(settings.run_dir, name)
    uvicorn.run(
        app_factory,
        factory=True,
        host=settings.host,
        port=settings.port_of(name),
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        # Longer than any client's idle keep-alive (httpx: 5 s), so a server never closes a
        # connection at the moment a client reuses it ("Server disconnected").
        timeout_keep_alive=75,
    )
