"""`make demo` (`python -m payflow_client.demo`): a tour of PayFlow through the client, against
a running system (`make run`, http://127.0.0.1:8000, or --base-url / PAYFLOW_BASE_URL).

Two people and a merchant register; both people are funded; Ada pays the merchant; Grace's
payment is made to fail on purpose (a sandbox fault rule) to show the compensation; the merchant
refunds Ada; the merchant's webhook listener receives and verifies the events. It ends with a
summary table and the trace ids. Every step checks what it shows: the exit status is 0 only when
every step behaved, 1 otherwise, 2 when PayFlow does not answer (the demo does not start it).
"""

from __future__ import annotations

import argparse
import os
import queue
import secrets
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from rich.text import Text

from payflow_client._core import DEFAULT_BASE_URL
from payflow_client.cli.listen import WebhookListener
from payflow_client.cli.render import history_line, jaeger_link
from payflow_client.client import PayFlow
from payflow_client.errors import PayFlowError
from payflow_client.models import Transfer, format_money

PASSWORD = "demo-password-" + "correct-horse"
FAULT_TAG = {"demo": "fail-on-purpose"}


class StepFailed(Exception):
    """A step did not behave as the demo says it should."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise StepFailed(message)


@dataclass
class StepResult:
    name: str
    ok: bool
    detail: str
    transfer: Transfer | None = None


@dataclass
class Person:
    name: str
    email: str
    wallet_id: str
    client: PayFlow


@dataclass
class Demo:
    base_url: str
    out: Console
    results: list[StepResult] = field(default_factory=list)
    people: dict[str, Person] = field(default_factory=dict)
    webhook_timeout_s: float = 30.0

    @contextmanager
    def step(self, name: str) -> Iterator[dict[str, Any]]:
        """Runs one step with a spinner; records ✓ or ✗ with the step's detail."""
        record: dict[str, Any] = {"detail": "", "transfer": None}
        with self.out.status(f"{name}…"):
            try:
                yield record
            except (StepFailed, PayFlowError) as exc:
                self.results.append(StepResult(name, False, str(exc), record["transfer"]))
                self.out.print(Text.assemble(("✗ ", "bold red"), (name, "bold"), f"  {exc}"))
                raise
        self.results.append(StepResult(name, True, record["detail"], record["transfer"]))
        self.out.print(Text.assemble(("✓ ", "bold green"), (name, "bold"), f"  {record['detail']}"))

    def show_history(self, transfer: Transfer) -> None:
        for entry in transfer.history:
            self.out.print(history_line(entry))

    def balance(self, who: str) -> int:
        person = self.people[who]
        return person.client.wallets.retrieve(person.wallet_id).balance


def check_reachable(base_url: str) -> str | None:
    """None when the gateway answers its readiness probe, else why not."""
    try:
        answer = httpx.get(f"{base_url}/readyz", timeout=3)
    except httpx.HTTPError as exc:
        return f"no answer ({exc.__class__.__name__})"
    if answer.status_code != 200:
        return f"not ready ({answer.status_code}: {answer.text[:200]})"
    return None


def run(demo: Demo) -> None:
    """The story; stops at the first step that does not behave."""
    suffix = secrets.token_hex(3)
    listener = WebhookListener()
    listener.start()
    try:
        _story(demo, suffix, listener)
    finally:
        listener.stop()
        for person in demo.people.values():
            person.client.close()


def _story(demo: Demo, suffix: str, listener: WebhookListener) -> None:
    url = demo.base_url
    with demo.step("Register Ada, Grace and the merchant Bistro") as s:
        for name in ("Ada", "Grace", "Bistro"):
            email = f"{name.lower()}-{suffix}@demo.payflow.dev"
            client = PayFlow(url, email=email, password=PASSWORD)
            registered = client.auth.register(email, PASSWORD, name)
            expect(registered.wallet.balance == 0, f"{name}'s new wallet is not empty")
            demo.people[name] = Person(name, email, registered.wallet.id, client)
            client.auth.me()  # logs in with email and password
        s["detail"] = ", ".join(f"{p.name} {p.wallet_id}" for p in demo.people.values())
    ada, grace, bistro = (demo.people[n] for n in ("Ada", "Grace", "Bistro"))

    with demo.step("Bistro listens for webhooks") as s:
        endpoint = bistro.client.webhook_endpoints.create(
            listener.url, ["transfer.completed", "transfer.failed"], description="make demo"
        )
        listener.use_secrets([endpoint.secret])
        s["detail"] = f"endpoint {endpoint.id} → {listener.url}"

    with demo.step("Fund Ada with 100.00 and Grace with 50.00 (sandbox top-ups)") as s:
        for person, amount in ((ada, 10_000), (grace, 5_000)):
            top_up = person.client.top_ups.create(person.wallet_id, amount, wait=10)
            top_up = person.client.transfers.wait(top_up.id, timeout=30)
            expect(top_up.status == "completed", f"{person.name}'s top-up is {top_up.status}")
        expect(demo.balance("Ada") == 10_000 and demo.balance("Grace") == 5_000, "balances")
        s["detail"] = "Ada 100.00 USD, Grace 50.00 USD"

    with demo.step("Ada pays Bistro 25.00") as s:
        paid = ada.client.transfers.create(
            source_wallet_id=ada.wallet_id,
            destination_wallet_id=bistro.wallet_id,
            amount=2_500,
            currency="USD",
            description="dinner",
            wait=10,
        )
        paid = ada.client.transfers.wait(paid.id, timeout=30)
        s["transfer"] = paid
        expect(paid.status == "completed", f"the payment is {paid.status}: {paid.failure_code}")
        expect(demo.balance("Bistro") == 2_500, "Bistro did not receive 25.00")
        s["detail"] = f"{paid.id} completed"
    demo.show_history(paid)

    with demo.step("Grace pays Bistro 12.50, failing on purpose at the credit step") as s:
        fault = grace.client.sandbox.add_fault("credit", "reject", match_metadata=FAULT_TAG)
        try:
            failed = grace.client.transfers.create(
                source_wallet_id=grace.wallet_id,
                destination_wallet_id=bistro.wallet_id,
                amount=1_250,
                currency="USD",
                metadata=FAULT_TAG,
                wait=10,
            )
            failed = grace.client.transfers.wait(failed.id, timeout=60)
        finally:
            grace.client.sandbox.remove_fault(fault.id)
        s["transfer"] = failed
        expect(failed.status == "failed", f"the payment is {failed.status}, not failed")
        expect(failed.compensated, "the failed payment was not compensated")
        expect(demo.balance("Grace") == 5_000, "Grace's money did not come back")
        s["detail"] = (
            f"{failed.id} failed ({failed.failure_code}); compensated: Grace's 12.50 came back"
        )
    demo.show_history(failed)

    with demo.step("Bistro refunds Ada's payment") as s:
        refund = bistro.client.refunds.create(paid.id, wait=10)
        refund = bistro.client.transfers.wait(refund.id, timeout=30)
        s["transfer"] = refund
        expect(refund.status == "completed", f"the refund is {refund.status}")
        expect(refund.refund_of == paid.id, "the refund does not point at the payment")
        expect(demo.balance("Ada") == 10_000, "Ada did not get her 25.00 back")
        s["detail"] = f"{refund.id} completed; Ada has 100.00 again"

    with demo.step("Bistro receives and verifies the webhooks") as s:
        wanted = {("transfer.completed", paid.id), ("transfer.failed", failed.id)}
        seen = _wait_for_events(listener, wanted, demo.webhook_timeout_s)
        expect(("transfer.completed", paid.id) in seen, "no verified transfer.completed")
        expect(("transfer.failed", failed.id) in seen, "no verified transfer.failed")
        s["detail"] = "verified: " + ", ".join(f"{t} of {i}" for t, i in sorted(wanted))
        bistro.client.webhook_endpoints.delete(endpoint.id)

    with demo.step("Balances add up") as s:
        balances = {name: demo.balance(name) for name in ("Ada", "Grace", "Bistro")}
        expect(balances == {"Ada": 10_000, "Grace": 5_000, "Bistro": 0}, f"balances {balances}")
        s["detail"] = ", ".join(f"{n} {format_money(b, 'USD')}" for n, b in balances.items())


def _wait_for_events(
    listener: WebhookListener, wanted: set[tuple[str, str]], timeout_s: float
) -> set[tuple[str, str]]:
    """The (event type, transfer id) pairs of verified deliveries, until every wanted one came
    or the time is up; a delivery that does not verify fails the step."""
    seen: set[tuple[str, str]] = set()
    deadline = time.monotonic() + timeout_s
    while not wanted <= seen and time.monotonic() < deadline:
        try:
            got = listener.received.get(timeout=0.2)
        except queue.Empty:
            continue
        if got.event is None:
            raise StepFailed(f"a delivery did not verify: {got.error}")
        seen.add((got.event.type, got.event.data.id))
    return seen


def summary(demo: Demo) -> Table:
    table = Table(title="PayFlow demo")
    table.add_column("", no_wrap=True)
    table.add_column("step")
    table.add_column("transfer", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("trace id", no_wrap=True)
    for result in demo.results:
        t = result.transfer
        table.add_row(
            Text("✓", style="bold green") if result.ok else Text("✗", style="bold red"),
            result.name,
            t.id if t else "",
            (t.status + (" (compensated)" if t.compensated else "")) if t else "",
            t.trace_id or "" if t else "",
        )
    return table


def main(argv: Sequence[str] | None = None, console: Console | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m payflow_client.demo", description=__doc__)
    parser.add_argument(
        "--base-url",
        default=os.environ.get("PAYFLOW_BASE_URL", DEFAULT_BASE_URL),
        help=f"the gateway (default: PAYFLOW_BASE_URL or {DEFAULT_BASE_URL})",
    )
    parser.add_argument("--webhook-timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    out = console or Console(highlight=False)
    base_url = args.base_url.rstrip("/")

    problem = check_reachable(base_url)
    if problem is not None:
        out.print(f"[bold red]PayFlow does not answer at {base_url}[/bold red]: {problem}")
        out.print(
            "Start it in another terminal with [bold]make run[/bold] (it listens on "
            f"{DEFAULT_BASE_URL}), or point [bold]--base-url[/bold] / PAYFLOW_BASE_URL at "
            "a running gateway, then run [bold]make demo[/bold] again."
        )
        return 2

    out.rule(f"PayFlow demo against {base_url}")
    demo = Demo(base_url, out, webhook_timeout_s=args.webhook_timeout)
    with suppress(StepFailed, PayFlowError):  # recorded and shown by the step that failed
        run(demo)
    out.print()
    out.print(summary(demo))
    traces = [r.transfer for r in demo.results if r.transfer and r.transfer.trace_id]
    for transfer in traces:
        assert transfer.trace_id is not None
        out.print(f"trace of {transfer.id}: {jaeger_link(transfer.trace_id)}")
    ok = bool(demo.results) and all(r.ok for r in demo.results) and len(demo.results) == STEPS
    out.print(
        "[bold green]Every step behaved.[/bold green]"
        if ok
        else "[bold red]A step did not behave; see above.[/bold red]"
    )
    return 0 if ok else 1


STEPS = 8
"""The number of steps of the story: a demo that stopped early has fewer results."""


if __name__ == "__main__":
    sys.exit(main())
