"""Write `<run_dir>/<name>.pid` with our own pid, then become the given command (same pid).

Supervisor keeps no per-program pid files; this keeps `.payflow/run/<process>.pid` current for the
stores, whose own pid-file handling differs between servers.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main(argv: list[str]) -> None:
    if len(argv) < 4 or argv[2] != "--":
        raise SystemExit("usage: python -m payflow_devstack.pidexec RUN_DIR NAME -- COMMAND...")
    run_dir, name, command = Path(argv[0]), argv[1], argv[3:]
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = run_dir / f"{name}.pid.tmp"
    tmp.write_text(f"{os.getpid()}\n")
    tmp.replace(run_dir / f"{name}.pid")
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
