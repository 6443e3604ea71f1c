"""Rich output of the command line: tables of resources, a transfer's saga history."""

from __future__ import annotations

import os
from collections.abc import Iterable

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from payflow_client.models import (
    Delivery,
    HistoryEntry,
    Reconciliation,
    Transfer,
    Wallet,
    format_money,
)

DEFAULT_JAEGER_URL = "http://localhost:16686"

STATUS_STYLES = {
    "completed": "bold green",
    "failed": "bold red",
    "pending": "yellow",
    "processing": "cyan",
    "active": "green",
    "frozen": "yellow",
    "closed": "dim",
    "succeeded": "green",
}


def console() -> Console:
    # Created per command so that it writes to the current sys.stdout (CliRunner swaps it).
    return Console(highlight=False, soft_wrap=False)


def error_console() -> Console:
    return Console(stderr=True, highlight=False)


def styled(value: str) -> Text:
    return Text(value, style=STATUS_STYLES.get(value, ""))


def jaeger_link(trace_id: str) -> str:
    base = os.environ.get("JAEGER_URL", DEFAULT_JAEGER_URL).rstrip("/")
    if base.endswith("/trace"):
        base = base[: -len("/trace")]
    return f"{base}/trace/{trace_id}"


def wallets_table(wallets: Iterable[Wallet]) -> Table:
    table = Table(title="Wallets")
    table.add_column("id", no_wrap=True)
    table.add_column("currency")
    table.add_column("balance", justify="right")
    table.add_column("status")
    for wallet in wallets:
        table.add_row(
            wallet.id,
            wallet.currency,
            format_money(wallet.balance, wallet.currency),
            styled(wallet.status),
        )
    return table


def transfers_table(transfers: Iterable[Transfer], title: str = "Transfers") -> Table:
    table = Table(title=title)
    table.add_column("id", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("amount", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("from", no_wrap=True)
    table.add_column("to", no_wrap=True)
    table.add_column("failure")
    table.add_column("created", no_wrap=True)
    for t in transfers:
        status = styled(t.status)
        if t.state != t.status:
            status.append(f" ({t.state})", style="dim")
        table.add_row(
            t.id,
            t.kind,
            format_money(t.amount, t.currency),
            status,
            t.source_wallet_id or "funding",
            t.destination_wallet_id,
            t.failure_code or "",
            t.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    return table


def history_line(entry: HistoryEntry) -> Text:
    line = Text("  ")
    line.append(entry.at.strftime("%H:%M:%S.%f")[:-3], style="dim")
    line.append("  ")
    line.append(f"{entry.state:<22}", style=STATUS_STYLES.get(entry.state, "bold"))
    line.append(entry.reason, style="dim")
    return line


def transfer_summary(transfer: Transfer) -> Panel:
    body = Text()
    body.append(f"{transfer.kind} {transfer.id}\n", style="bold")
    body.append(f"amount      {format_money(transfer.amount, transfer.currency)}\n")
    body.append(f"from → to   {transfer.source_wallet_id or 'funding'} → ")
    body.append(f"{transfer.destination_wallet_id}\n")
    body.append("status      ")
    body.append_text(styled(transfer.status))
    body.append(f" ({transfer.state})\n")
    if transfer.failure_code:
        body.append(f"failure     {transfer.failure_code}: {transfer.failure_message or ''}\n")
        body.append(
            "compensated "
            + ("yes: every step that had moved money was undone" if transfer.compensated else "no")
            + "\n"
        )
    if transfer.refund_of:
        body.append(f"refund of   {transfer.refund_of}\n")
    if transfer.trace_id:
        body.append(f"trace       {transfer.trace_id}\n")
        body.append(f"            {jaeger_link(transfer.trace_id)}\n")
    style = STATUS_STYLES.get(transfer.status, "")
    body.rstrip()
    return Panel(
        body,
        title=transfer.status.upper(),
        title_align="left",
        border_style=style.replace("bold ", ""),
        expand=False,
    )


def deliveries_table(deliveries: Iterable[Delivery]) -> Table:
    table = Table(title="Webhook deliveries")
    table.add_column("id", no_wrap=True)
    table.add_column("endpoint", no_wrap=True)
    table.add_column("event")
    table.add_column("status")
    table.add_column("attempts", justify="right")
    table.add_column("last answer")
    for d in deliveries:
        last = d.attempts[-1] if d.attempts else None
        answer = ""
        if last is not None:
            answer = str(last.status_code) if last.status_code is not None else (last.error or "")
        table.add_row(
            d.id, d.endpoint_id, d.event_type, styled(d.status), str(len(d.attempts)), answer
        )
    return table


def reconciliation_table(report: Reconciliation) -> Table:
    table = Table(title="Reconciliation: " + ("OK" if report.ok else "PROBLEMS FOUND"))
    table.add_column("check")
    table.add_column("result")
    table.add_row("wallets checked", str(report.wallets_checked))
    table.add_row(
        "wallet vs ledger mismatches",
        Text(str(len(report.mismatches)), style="green" if not report.mismatches else "bold red"),
    )
    for m in report.mismatches:
        table.add_row(f"  {m.wallet_id}", f"wallet {m.wallet_balance} / ledger {m.ledger_balance}")
    table.add_row(
        "ledger balanced",
        Text(
            "yes" if report.ledger_balanced else "NO",
            style="green" if report.ledger_balanced else "bold red",
        ),
    )
    table.add_row(
        "stuck transfers",
        Text(
            str(report.stuck_transfers), style="green" if not report.stuck_transfers else "bold red"
        ),
    )
    return table
