"""The `payflow` command line (Typer's CliRunner) against the real running system."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from client_support import ADMIN_EMAIL, ADMIN_PASSWORD, expired_access_token
from typer.testing import CliRunner

from payflow_client.cli import app
from payflow_testing.receiver import Receiver

pytestmark = pytest.mark.e2e

People = Callable[[str], Any]


class Cli:
    def __init__(self, base_url: str, config_dir: Path) -> None:
        self.runner = CliRunner()
        self.config_dir = config_dir
        self.env = {
            "PAYFLOW_BASE_URL": base_url,
            "PAYFLOW_CONFIG_DIR": str(config_dir),
            "PAYFLOW_API_KEY": "",
            "COLUMNS": "250",
            "JAEGER_URL": "http://jaeger.example:16686",
        }

    def __call__(self, *args: str, code: int = 0) -> str:
        result = self.runner.invoke(app, list(args), env=self.env)
        assert result.exit_code == code, (
            f"payflow {' '.join(args)} exited {result.exit_code}:\n{result.output}"
            + (f"\n{result.exception!r}" if result.exception else "")
        )
        return result.output

    def json(self, *args: str, code: int = 0) -> Any:
        return json.loads(self(*args, "--json", code=code))

    @property
    def credentials(self) -> dict[str, Any]:
        saved: dict[str, Any] = json.loads((self.config_dir / "credentials.json").read_text())
        return saved


@pytest.fixture
def cli(base_url: str, config_dir: Path) -> Cli:
    return Cli(base_url, config_dir)


def test_login_wallets_top_up_transfer_and_list(cli: Cli, people: People, base_url: str) -> None:
    alice, bob = people("alice"), people("bob")
    out = cli("login", "--email", alice.email, "--password", alice.password)
    assert f"as alice <{alice.email}>" in out
    saved = cli.credentials
    assert saved["base_url"] == base_url and saved["email"] == alice.email
    assert saved["access_token"] and saved["refresh_token"]
    mode = stat.S_IMODE(os.stat(cli.config_dir / "credentials.json").st_mode)
    assert mode == 0o600
    assert alice.user_id in cli("whoami")

    table = cli("wallets")
    assert alice.wallet_id in table and "0.00 USD" in table and "active" in table
    assert [w["id"] for w in cli.json("wallets")] == [alice.wallet_id]

    out = cli("top-up", alice.wallet_id, "5000")
    assert "COMPLETED" in out and "50.00 USD" in out
    assert cli.json("wallets")[0]["balance"] == 5_000

    out = cli(
        "transfer",
        "--from",
        alice.wallet_id,
        "--to",
        bob.wallet_id,
        "--amount",
        "1250",
        "--currency",
        "USD",
        "-m",
        "order=7",
    )
    lines = out.splitlines()
    order = [
        next(i for i, line in enumerate(lines) if state in line)
        for state in ("debiting_source", "posting_transfer", "crediting_destination", "completed")
    ]
    assert order == sorted(order), out  # the saga's history, in the order it advanced
    assert "COMPLETED" in out and "12.50 USD" in out
    assert "http://jaeger.example:16686/trace/" in out
    assert cli.json("wallets")[0]["balance"] == 3_750

    listed = cli.json("transfers", "list")
    assert [t["kind"] for t in listed] == ["transfer", "top_up"]
    assert listed[0]["metadata"] == {"order": "7"}
    assert cli.json("transfers", "list", "--status", "failed") == []
    assert listed[0]["id"] in cli("transfers", "list", "--status", "completed")
    assert "debiting_source" in cli("transfers", "show", listed[0]["id"])


def test_a_failed_transfer_shows_its_compensation_and_is_listed_as_failed(
    cli: Cli, people: People
) -> None:
    alice, bob = people("alice"), people("bob")
    alice.client.top_ups.create(alice.wallet_id, 2_000, wait=10)
    fault = alice.client.sandbox.add_fault("credit", "reject", match_metadata={"case": "cli"})
    cli("login", "--email", alice.email, "--password", alice.password)
    try:
        out = cli(
            "transfer",
            "--from",
            alice.wallet_id,
            "--to",
            bob.wallet_id,
            "--amount",
            "700",
            "-m",
            "case=cli",
            code=1,
        )
    finally:
        alice.client.sandbox.remove_fault(fault.id)
    assert "FAILED" in out and "compensated yes" in out
    assert "refunding_source" in out
    failed = cli.json("transfers", "list", "--status", "failed")
    assert len(failed) == 1 and failed[0]["compensated"] is True
    out = cli("admin", "transfer", failed[0]["id"])
    assert "failure" in out and failed[0]["failure_code"] in out
    assert f"http://jaeger.example:16686/trace/{failed[0]['trace_id']}" in out


def test_refund_and_the_operator_commands(cli: Cli, people: People, base_url: str) -> None:
    alice, bob = people("alice"), people("bob")
    alice.client.top_ups.create(alice.wallet_id, 1_000, wait=10)
    paid = alice.client.transfers.create(
        source_wallet_id=alice.wallet_id,
        destination_wallet_id=bob.wallet_id,
        amount=400,
        currency="USD",
        wait=10,
    )
    cli("login", "--email", bob.email, "--password", bob.password)
    out = cli("refund", paid.id)
    assert "refund of" in out and paid.id in out and "COMPLETED" in out
    assert alice.client.wallets.retrieve(alice.wallet_id).balance == 1_000
    out = cli("refund", alice.wallet_id, code=1)
    assert "404 transfer_not_found" in out and "request id" in out
    cli("admin", "reconcile", code=1)  # bob is no administrator: 403
    assert "not visible to this account" in cli("admin", "transfer", "tr_someone_elses", code=1)
    cli("logout")
    assert not (cli.config_dir / "credentials.json").exists()
    assert "Not logged in" in cli("wallets", code=1)

    cli("login", "--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD)
    deadline = time.monotonic() + 60
    report: Any = None
    while time.monotonic() < deadline:
        result = cli.runner.invoke(app, ["admin", "reconcile", "--json"], env=cli.env)
        report = json.loads(result.output)
        if result.exit_code == 0:
            break
        time.sleep(0.5)
    assert report is not None and report["ok"] is True
    assert "Reconciliation: OK" in cli("admin", "reconcile")
    # The administrator is party to neither transfer, and sees both.
    out = cli("admin", "transfer", paid.id)
    assert paid.id in out and "COMPLETED" in out


def test_renewed_tokens_are_saved_and_errors_have_exit_codes(
    cli: Cli, people: People, base_url: str
) -> None:
    alice = people("alice")
    cli("login", "--email", alice.email, "--password", alice.password)
    saved = cli.credentials
    saved["access_token"] = expired_access_token(alice.user_id)
    (cli.config_dir / "credentials.json").write_text(json.dumps(saved))
    assert alice.wallet_id in cli("wallets")
    renewed = cli.credentials
    assert renewed["access_token"] != saved["access_token"]
    assert renewed["refresh_token"] != saved["refresh_token"]
    assert alice.wallet_id in cli("wallets")  # the saved pair works

    out = cli("top-up", "wal_nope", "100", code=1)
    assert "404 wallet_not_found" in out
    out = cli("transfers", "list", "--status", "lost", code=2)
    assert "--status" in out
    cli.env["PAYFLOW_BASE_URL"] = "http://127.0.0.1:9"
    assert "Cannot reach PayFlow" in cli("wallets", code=3)


def test_webhooks_listen_verifies_prints_and_forwards(cli: Cli, people: People) -> None:
    alice, bob = people("alice"), people("bob")
    alice.client.top_ups.create(alice.wallet_id, 1_000, wait=10)
    cli("login", "--email", alice.email, "--password", alice.password)
    target = Receiver()
    target.start()
    outcome: dict[str, Any] = {}

    def listen() -> None:
        outcome["result"] = cli.runner.invoke(
            app,
            [
                "webhooks",
                "listen",
                "--forward-to",
                target.url("/forwarded"),
                "-e",
                "transfer.completed",
                "--max-events",
                "1",
                "--timeout",
                "60",
            ],
            env=cli.env,
        )

    listener = threading.Thread(target=listen)
    listener.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not list(alice.client.webhook_endpoints.list()):
            time.sleep(0.1)
        endpoint = next(iter(alice.client.webhook_endpoints.list()))
        assert endpoint.url.startswith("http://127.0.0.1:")
        paid = alice.client.transfers.create(
            source_wallet_id=alice.wallet_id,
            destination_wallet_id=bob.wallet_id,
            amount=300,
            currency="USD",
            wait=10,
        )
        listener.join(timeout=60)
    finally:
        target.stop()
    result = outcome["result"]
    assert result.exit_code == 0, result.output
    assert "verified transfer.completed" in result.output
    assert paid.id in result.output and "forwarded: 200" in result.output
    forwarded = target.received("/forwarded")
    assert len(forwarded) == 1
    assert json.loads(forwarded[0].body)["data"]["id"] == paid.id
    assert forwarded[0].headers["webhook-signature"].startswith("v1,")
    # The listener's endpoint is gone once it stops.
    assert list(alice.client.webhook_endpoints.list()) == []
