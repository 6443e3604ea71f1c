"""What each process of an end-to-end stack is started with (no process is started here)."""

from __future__ import annotations

from pathlib import Path

from payflow_testing.stack import BUS_SERVICES, SERVICE_MODULES, ServiceStack


def test_only_the_processes_on_the_bus_get_its_key_and_redis_gets_its_password_apart(
    tmp_path: Path,
) -> None:
    stack = ServiceStack("mongodb://m:1", "redis://:p%40ss@r:6379/0", tmp_path)
    for name in SERVICE_MODULES:
        env = stack.environment(name)
        assert env["PAYFLOW_REDIS_URL"] == "redis://r:6379/0"
        assert env["PAYFLOW_REDIS_PASSWORD"] == "p@ss"
        assert (env.get("PAYFLOW_BUS_SIGNING_KEYS") == stack.bus_signing_key) == (
            name in BUS_SERVICES
        ), name
    assert set(BUS_SERVICES) == {"orchestrator", "wallet", "ledger", "webhooks"}
