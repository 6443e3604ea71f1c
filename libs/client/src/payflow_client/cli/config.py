"""Where the command line keeps its session: `credentials.json` in `PAYFLOW_CONFIG_DIR`, else
`$XDG_CONFIG_HOME/payflow`, else `~/.config/payflow` (readable by the user only)."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from payflow_client._core import DEFAULT_BASE_URL

CREDENTIALS_FILE = "credentials.json"


def config_dir() -> Path:
    explicit = os.environ.get("PAYFLOW_CONFIG_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".config"
    return base / "payflow"


@dataclass
class Credentials:
    base_url: str = DEFAULT_BASE_URL
    email: str | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    api_key: str | None = None


def credentials_path() -> Path:
    return config_dir() / CREDENTIALS_FILE


def load() -> Credentials | None:
    path = credentials_path()
    try:
        raw = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    known = set(Credentials.__dataclass_fields__)
    return Credentials(**{k: v for k, v in raw.items() if k in known})


def save(credentials: Credentials) -> Path:
    """Writes the file atomically with mode 0600: it holds a session."""
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(asdict(credentials), out, indent=2)
    os.replace(tmp, path)
    return path


def forget() -> bool:
    path = credentials_path()
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
        return True
    return False
