"""The `payflow` command line (Typer, Rich output).

    payflow login --email ada@example.com            # password prompted; session kept
    payflow wallets
    payflow top-up WALLET 5000                        # minor units: 50.00
    payflow transfer --from W1 --to W2 --amount 1250 --currency USD
    payflow refund TRANSFER_ID
    payflow transfers list --status failed
    payflow webhooks listen --forward-to http://127.0.0.1:9000/hooks
    payflow admin transfer TRANSFER_ID                # history, failure, trace, deliveries
    payflow admin reconcile

Every command exits 0 on success, 1 when the API refused it or the payment failed, 2 on a usage
error, 3 when it could not reach the API.
"""

from __future__ import annotations

import functools
import json
import os
import queue
import time
from collections.abc import Callable
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from pydantic import BaseModel
from rich.status import Status

from payflow_client._core import DEFAULT_BASE_URL
from payflow_client.cli import config
from payflow_client.cli.listen import WebhookListener
from payflow_client.cli.render import (
    console,
    deliveries_table,
    error_console,
    history_line,
    jaeger_link,
    reconciliation_table,
    transfer_summary,
    transfers_table,
    wallets_table,
)
from payflow_client.client import PayFlow
from payflow_client.errors import (
    APIConnectionError,
    APIError,
    NotFoundError,
    PayFlowError,
    PermissionDeniedError,
)
from payflow_client.models import TRANSFER_STATUSES, Delivery, Transfer, format_money

P = ParamSpec("P")
R = TypeVar("R")

app = typer.Typer(
    name="payflow",
    help="PayFlow from the command line: wallets, payments, refunds, webhooks, operations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
transfers_app = typer.Typer(help="Transfers touching you.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Webhook endpoints and a local listener.", no_args_is_help=True)
admin_app = typer.Typer(help="For operators.", no_args_is_help=True)
app.add_typer(transfers_app, name="transfers")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(admin_app, name="admin")

BaseUrl = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        envvar="PAYFLOW_BASE_URL",
        help=f"The gateway's URL (default: the logged-in one, else {DEFAULT_BASE_URL})",
        show_default=False,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


class Context:
    def __init__(self, base_url: str | None) -> None:
        self.base_url_option = base_url

    def base_url(self) -> str:
        stored = config.load()
        return self.base_url_option or (stored.base_url if stored else DEFAULT_BASE_URL)

    def client(self) -> PayFlow:
        """A client with the stored session (or `PAYFLOW_API_KEY`); renewed tokens are saved."""
        api_key = os.environ.get("PAYFLOW_API_KEY")
        if api_key:
            return PayFlow(self.base_url(), api_key=api_key)
        stored = config.load()
        if stored is None or not (stored.api_key or stored.access_token or stored.refresh_token):
            error_console().print("Not logged in: run [bold]payflow login[/bold] first.")
            raise typer.Exit(1)

        def keep(access_token: str, refresh_token: str) -> None:
            stored.access_token, stored.refresh_token = access_token, refresh_token
            config.save(stored)

        return PayFlow(
            self.base_url_option or stored.base_url,
            api_key=stored.api_key,
            access_token=stored.access_token,
            refresh_token=stored.refresh_token,
            on_tokens=None if stored.api_key else keep,
        )


def _ctx(ctx: typer.Context) -> Context:
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    return obj


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """API errors become a readable message and exit code 1 (3 when the API is unreachable)."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except APIConnectionError as exc:
            error_console().print(f"[bold red]Cannot reach PayFlow[/bold red]: {exc}")
            if exc.idempotency_key:
                error_console().print(
                    f"Retrying with [bold]--key {exc.idempotency_key}[/bold] is safe: "
                    "the payment happens at most once."
                )
            raise typer.Exit(3) from None
        except APIError as exc:
            err = error_console()
            err.print(f"[bold red]{exc.status} {exc.code}[/bold red]: {exc.detail}")
            for item in exc.errors:
                err.print(f"  {item.get('loc', '')}: {item.get('msg', '')}")
            if exc.request_id:
                err.print(f"[dim]request id {exc.request_id}[/dim]")
            raise typer.Exit(1) from None
        except PayFlowError as exc:
            error_console().print(f"[bold red]Error[/bold red]: {exc}")
            raise typer.Exit(1) from None

    return run


def print_json(value: Any) -> None:
    def plain(item: Any) -> Any:
        return item.model_dump(mode="json") if isinstance(item, BaseModel) else item

    data = [plain(v) for v in value] if isinstance(value, list) else plain(value)
    typer.echo(json.dumps(data, indent=2))


@app.callback()
def root(ctx: typer.Context, base_url: BaseUrl = None) -> None:
    ctx.obj = Context(base_url)


# ---------------------------------------------------------------- session
@app.command()
@reports_errors
def login(
    ctx: typer.Context,
    email: Annotated[str | None, typer.Option(help="Your account's email.")] = None,
    password: Annotated[
        str | None,
        typer.Option(envvar="PAYFLOW_PASSWORD", help="Prompted (hidden) when not given."),
    ] = None,
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="Log in with an API key instead.")
    ] = None,
) -> None:
    """Log in; the session is kept in ~/.config/payflow/credentials.json (or PAYFLOW_CONFIG_DIR)."""
    base_url = _ctx(ctx).base_url()
    if api_key:
        with PayFlow(base_url, api_key=api_key) as client:
            user = client.auth.me()
        stored = config.Credentials(base_url=base_url, email=user.email, api_key=api_key)
    else:
        email = email or typer.prompt("Email")
        password = password or typer.prompt("Password", hide_input=True)
        with PayFlow(base_url) as client:
            pair = client.auth.login(email, password)
            user = client.auth.me()
        stored = config.Credentials(
            base_url=base_url,
            email=user.email,
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
        )
    path = config.save(stored)
    console().print(
        f"Logged in to {base_url} as [bold]{user.name}[/bold] <{user.email}> ({user.role}); "
        f"session saved in {path}"
    )


@app.command()
@reports_errors
def register(
    ctx: typer.Context,
    email: Annotated[str, typer.Option(prompt=True)],
    name: Annotated[str, typer.Option(prompt=True)],
    password: Annotated[
        str,
        typer.Option(
            prompt=True, hide_input=True, confirmation_prompt=True, envvar="PAYFLOW_PASSWORD"
        ),
    ],
) -> None:
    """Create an account (and its default wallet); then run `payflow login`."""
    with PayFlow(_ctx(ctx).base_url()) as client:
        registered = client.auth.register(email, password, name)
    console().print(
        f"Registered [bold]{registered.user.email}[/bold] with wallet "
        f"{registered.wallet.id} ({registered.wallet.currency})"
    )


@app.command()
@reports_errors
def logout(ctx: typer.Context) -> None:
    """End the session and forget the stored credentials."""
    stored = config.load()
    if stored and stored.refresh_token:
        with PayFlow(stored.base_url, refresh_token=stored.refresh_token) as client:
            client.auth.logout()
    config.forget()
    console().print("Logged out.")


@app.command()
@reports_errors
def whoami(ctx: typer.Context) -> None:
    """The logged-in user."""
    with _ctx(ctx).client() as client:
        user = client.auth.me()
    console().print(f"{user.name} <{user.email}> {user.id} ({user.role}) on {client.base_url}")


# ---------------------------------------------------------------- money
@app.command()
@reports_errors
def wallets(ctx: typer.Context, as_json: AsJson = False) -> None:
    """Your wallets and their balances."""
    with _ctx(ctx).client() as client:
        found = list(client.wallets.list())
    if as_json:
        print_json(found)
    else:
        console().print(wallets_table(found))


@app.command("top-up")
@reports_errors
def top_up(
    ctx: typer.Context,
    wallet: Annotated[str, typer.Argument(help="The wallet to fund.")],
    amount: Annotated[int, typer.Argument(help="Minor units (cents): 5000 is 50.00.", min=1)],
    key: Annotated[str | None, typer.Option(help="Idempotency-Key (default: a new one).")] = None,
    as_json: AsJson = False,
) -> None:
    """Sandbox funding of one of your wallets."""
    with _ctx(ctx).client() as client:
        transfer = client.top_ups.create(wallet, amount, idempotency_key=key, wait=10)
        if not transfer.is_terminal:
            transfer = client.transfers.wait(transfer.id, timeout=60)
    _finish(transfer, as_json)


@app.command()
@reports_errors
def transfer(
    ctx: typer.Context,
    source: Annotated[str, typer.Option("--from", help="Your wallet that pays.")],
    destination: Annotated[str, typer.Option("--to", help="The wallet that receives.")],
    amount: Annotated[int, typer.Option(help="Minor units (cents): 1250 is 12.50.", min=1)],
    currency: Annotated[str, typer.Option(help="ISO 4217, e.g. USD.")] = "USD",
    description: Annotated[str | None, typer.Option()] = None,
    metadata: Annotated[
        list[str] | None, typer.Option("--metadata", "-m", help="key=value, repeatable.")
    ] = None,
    key: Annotated[str | None, typer.Option(help="Idempotency-Key (default: a new one).")] = None,
    follow: Annotated[
        bool, typer.Option(help="Show the saga's history as it advances, until it is terminal.")
    ] = True,
    as_json: AsJson = False,
) -> None:
    """Pay from one of your wallets and follow the saga until it is completed or failed."""
    pairs = dict(_key_value(item) for item in metadata or [])
    with _ctx(ctx).client() as client:
        started = client.transfers.create(
            source_wallet_id=source,
            destination_wallet_id=destination,
            amount=amount,
            currency=currency.upper(),
            description=description,
            metadata=pairs,
            idempotency_key=key,
        )
        if not follow:
            _finish(started, as_json, exit_on_failure=False)
            return
        final = _follow(client, started, quiet=as_json)
    _finish(final, as_json)


@app.command()
@reports_errors
def refund(
    ctx: typer.Context,
    transfer_id: Annotated[str, typer.Argument(help="A completed transfer you received.")],
    amount: Annotated[
        int | None, typer.Option(help="Minor units to return (default: all that is left).")
    ] = None,
    key: Annotated[str | None, typer.Option(help="Idempotency-Key (default: a new one).")] = None,
    as_json: AsJson = False,
) -> None:
    """Return part or all of a transfer to its sender (only its recipient can)."""
    with _ctx(ctx).client() as client:
        started = client.refunds.create(transfer_id, amount=amount, idempotency_key=key)
        final = _follow(client, started, quiet=as_json)
    _finish(final, as_json)


def _key_value(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name:
        raise typer.BadParameter(f"{item!r} is not key=value", param_hint="--metadata")
    return name, value


def _follow(client: PayFlow, transfer: Transfer, *, quiet: bool = False) -> Transfer:
    """Prints each new history entry as the saga advances (server-sent events)."""
    out = console()
    if not quiet:
        out.print(
            f"[bold]{transfer.kind}[/bold] {transfer.id}: "
            f"{format_money(transfer.amount, transfer.currency)}"
        )
    shown = 0

    def show(current: Transfer) -> None:
        nonlocal shown
        for entry in current.history[shown:]:
            if not quiet:
                out.print(history_line(entry))
        shown = max(shown, len(current.history))

    show(transfer)
    if transfer.is_terminal:
        return transfer
    current = transfer
    deadline = time.monotonic() + 120
    with Status("following the saga…", console=out) if not quiet else _nothing():
        for current in client.transfers.stream(transfer.id, deadline=deadline):
            show(current)
    if not current.is_terminal:
        current = client.transfers.wait(transfer.id, timeout=max(1.0, deadline - time.monotonic()))
        show(current)
    return current


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


def _finish(transfer: Transfer, as_json: bool, *, exit_on_failure: bool = True) -> None:
    if as_json:
        print_json(transfer)
    else:
        console().print(transfer_summary(transfer))
    if exit_on_failure and transfer.status == "failed":
        raise typer.Exit(1)


# ---------------------------------------------------------------- transfers
@transfers_app.command("list")
@reports_errors
def transfers_list(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option(help=f"One of {', '.join(TRANSFER_STATUSES)}.")
    ] = None,
    wallet: Annotated[str | None, typer.Option(help="Only those touching this wallet.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many (newest first).", min=1)] = 50,
    as_json: AsJson = False,
) -> None:
    """Transfers touching you, newest first (every page, up to --limit)."""
    if status is not None and status not in TRANSFER_STATUSES:
        raise typer.BadParameter(f"one of {', '.join(TRANSFER_STATUSES)}", param_hint="--status")
    with _ctx(ctx).client() as client:
        found = list(
            client.transfers.list(
                status=status, wallet_id=wallet, limit=limit, page_size=min(limit, 100)
            )
        )
    if as_json:
        print_json(found)
    elif not found:
        console().print(f"No {status or ''} transfers.".replace("  ", " "))
    else:
        title = f"Transfers ({status})" if status else "Transfers"
        console().print(transfers_table(found, title))


@transfers_app.command("show")
@reports_errors
def transfers_show(
    ctx: typer.Context, transfer_id: Annotated[str, typer.Argument()], as_json: AsJson = False
) -> None:
    """One transfer with its saga history."""
    with _ctx(ctx).client() as client:
        found = client.transfers.retrieve(transfer_id)
    if as_json:
        print_json(found)
        return
    out = console()
    for entry in found.history:
        out.print(history_line(entry))
    out.print(transfer_summary(found))


# ---------------------------------------------------------------- webhooks
@webhooks_app.command("listen")
@reports_errors
def webhooks_listen(
    ctx: typer.Context,
    forward_to: Annotated[
        str | None,
        typer.Option("--forward-to", help="Forward each verified delivery to this URL."),
    ] = None,
    events: Annotated[
        list[str] | None,
        typer.Option("--event", "-e", help="Event types (repeatable); default all."),
    ] = None,
    port: Annotated[int, typer.Option(help="Local port to listen on (0: any).")] = 0,
    max_events: Annotated[
        int | None, typer.Option(help="Stop after this many deliveries.", min=1)
    ] = None,
    timeout: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
) -> None:
    """Receive your webhooks locally: creates an endpoint pointing at a listener on 127.0.0.1,
    prints every verified delivery and forwards it; the endpoint is deleted on exit (Ctrl-C)."""
    out = console()
    listener = WebhookListener(port, forward_to)
    listener.start()
    with _ctx(ctx).client() as client:
        try:
            endpoint = client.webhook_endpoints.create(
                listener.url, events or ["*"], description="payflow webhooks listen"
            )
        except BaseException:
            listener.stop()
            raise
        listener.use_secrets([endpoint.secret])
        out.print(
            f"Listening on {listener.url} (endpoint {endpoint.id})"
            + (f", forwarding to {forward_to}" if forward_to else "")
            + ". Ctrl-C to stop."
        )
        count = 0
        deadline = time.monotonic() + timeout if timeout else None
        try:
            while max_events is None or count < max_events:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                try:
                    got = listener.received.get(timeout=min(remaining or 0.5, 0.5))
                except queue.Empty:
                    continue
                count += 1
                _print_delivery(got)
        except KeyboardInterrupt:
            pass
        finally:
            listener.stop()
            client.webhook_endpoints.delete(endpoint.id)
            out.print(f"Stopped after {count} deliveries; endpoint {endpoint.id} deleted.")


def _print_delivery(got: Any) -> None:
    out = console()
    if got.event is None:
        out.print(f"[bold red]refused[/bold red] a delivery: {got.error}")
        return
    event = got.event
    line = (
        f"[green]verified[/green] {event.type:<20} {event.id}  transfer {event.data.id} "
        f"{format_money(event.data.amount, event.data.currency)} {event.data.status}"
    )
    if got.forwarded_status is not None:
        line += f"  → forwarded: {got.forwarded_status}"
    elif got.forward_error:
        line += f"  → [red]forward failed[/red]: {got.forward_error}"
    out.print(line)


# ---------------------------------------------------------------- admin
@admin_app.command("transfer")
@reports_errors
def admin_transfer(
    ctx: typer.Context, transfer_id: Annotated[str, typer.Argument()], as_json: AsJson = False
) -> None:
    """A transfer for an investigation: saga history, failure and compensation, trace id with
    its Jaeger link (JAEGER_URL), and the webhook deliveries of its events to your endpoints."""
    with _ctx(ctx).client() as client:
        try:
            # An administrator sees any transfer; anyone else, those they are party to.
            try:
                found = client.admin.transfer(transfer_id)
            except PermissionDeniedError:
                found = client.transfers.retrieve(transfer_id)
        except NotFoundError:
            error_console().print(
                f"[bold red]404 transfer_not_found[/bold red]: {transfer_id} does not exist, or "
                "is not visible to this account (only administrators see every transfer)."
            )
            raise typer.Exit(1) from None
        deliveries = _deliveries_of(client, transfer_id)
    if as_json:
        print_json(
            {
                "transfer": found.model_dump(mode="json"),
                "jaeger_url": jaeger_link(found.trace_id) if found.trace_id else None,
                "deliveries": [d.model_dump(mode="json") for d in deliveries],
            }
        )
        return
    out = console()
    out.print(f"[bold]Saga history of {found.id}[/bold]")
    for entry in found.history:
        out.print(history_line(entry))
    out.print(transfer_summary(found))
    if deliveries:
        out.print(deliveries_table(deliveries))
    else:
        out.print("No webhook deliveries of this transfer's events to your endpoints.")


def _deliveries_of(client: PayFlow, transfer_id: str, scan: int = 500) -> list[Delivery]:
    event_ids = {e.id for e in client.events.list(limit=scan) if e.data.id == transfer_id}
    if not event_ids:
        return []
    found: list[Delivery] = []
    for endpoint in client.webhook_endpoints.list():
        found.extend(
            d
            for d in client.webhook_endpoints.deliveries(endpoint.id, limit=scan)
            if d.event_id in event_ids
        )
    return sorted(found, key=lambda d: d.created_at)


@admin_app.command("reconcile")
@reports_errors
def admin_reconcile(ctx: typer.Context, as_json: AsJson = False) -> None:
    """Every wallet against its ledger account, the journal's balance, stuck sagas (exit 1 when
    anything is off). Administrators only."""
    with _ctx(ctx).client() as client:
        report = client.admin.reconciliation()
    if as_json:
        print_json(report)
    else:
        console().print(reconciliation_table(report))
    if not report.ok:
        raise typer.Exit(1)


def main() -> None:
    app()
