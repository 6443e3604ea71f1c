"""A gateway process whose bootstrap admin email belongs to an ordinary account does not start,
says why, and leaves the account as it was."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from payflow_devstack.stores import free_port

pytestmark = pytest.mark.e2e


def start_gateway(
    gateways: Any, run_dir: Path, **variables: str
) -> subprocess.CompletedProcess[str]:
    """A second gateway on the main stack's database, run until it exits (or 60 s pass)."""
    env = gateways.main.environment()
    env.update(
        {
            "PAYFLOW_SERVICE_NAME": "gateway",
            "PAYFLOW_GATEWAY_PORT": str(free_port()),
            "PAYFLOW_RUN_DIR": str(run_dir),
            **variables,
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "payflow_gateway"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_an_ordinary_account_is_never_promoted_to_bootstrap_admin(
    users: Any, gateways: Any, gateway_db: Any, tmp_path: Path
) -> None:
    registered, email = await users.register(users.new_email("squatter"))
    started = start_gateway(
        gateways,
        tmp_path,
        PAYFLOW_BOOTSTRAP_ADMIN_EMAIL=email.upper(),
        PAYFLOW_BOOTSTRAP_ADMIN_PASSWORD="bootstrap-password-1",
    )
    assert started.returncode != 0
    output = started.stdout + started.stderr
    assert "PAYFLOW_BOOTSTRAP_ADMIN_EMAIL names an account that is not an administrator" in output
    stored = await gateway_db["users"].find_one({"_id": registered["user"]["id"]})
    assert stored["role"] == "user"


def test_a_bootstrap_password_bcrypt_would_cut_stops_the_start_plainly(
    gateways: Any, tmp_path: Path
) -> None:
    started = start_gateway(
        gateways,
        tmp_path,
        PAYFLOW_BOOTSTRAP_ADMIN_EMAIL="root-long@payflow.dev",
        PAYFLOW_BOOTSTRAP_ADMIN_PASSWORD="p" * 73,
    )
    assert started.returncode == 1
    assert started.stderr.strip() == (
        "gateway: not started: PAYFLOW_BOOTSTRAP_ADMIN_PASSWORD is 73 bytes; bcrypt uses at "
        "most 72 (UTF-8), so choose a shorter one"
    )
