"""The invariants of a chaos run, checked with reads only: of the stores directly (MongoDB
`find`, Redis `XPENDING`/`XRANGE`/`XLEN`), of the admin reconciliation route, and of what the
webhook receivers got.

Two kinds of check:
- live ones, true at every instant whatever is in flight, run every few seconds while the faults
  fly (a balance never negative, every journal transaction balanced, every terminal saga's money
  where its outcome says, refunds within their original, deliberate failures never completed);
- final ones, once the faults have stopped and the system has settled (every saga terminal within
  the bound, money conserved per currency, every wallet equal to its ledger account, the admin
  reconciliation, every event delivered to every subscribed endpoint with one webhook-id, nothing
  pending in any consumer group, every dead letter explained).

A violation seen once stays a violation: the run's verdict is the conjunction of all checks.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from payflow_testing.chaos.receivers import ChaosReceiver, Receipt

TERMINAL_STATES = frozenset({"completed", "failed", "compensated"})
STREAM_GROUPS = {
    "wallet-commands": "wallet",
    "ledger-commands": "ledger",
    "saga-replies": "orchestrator",
    "transfer-events": "webhooks",
}
MAX_EXAMPLES = 20
SETTLE_BOUND_S = 60.0
"""Every saga must be terminal this long after the last fault ended."""

_MARK_ESCAPES = (("%", "%25"), (".", "%2E"), ("$", "%24"))


def operation_of(mark_key: str) -> str:
    """A wallet mark's key back to its operation id (the wallet escapes `.`, `$` and `%`)."""
    for raw, escaped in reversed(_MARK_ESCAPES):
        mark_key = mark_key.replace(escaped, raw)
    return mark_key


@dataclass
class Check:
    name: str
    description: str
    phase: str
    """`live` (every round while faults fly, and at the end) or `final` (once settled)."""
    violations: int = 0
    examples: list[str] = field(default_factory=list)
    checked: int = 0
    rounds: int = 0
    skipped: int = 0
    notes: list[str] = field(default_factory=list)

    def violate(self, message: str) -> None:
        self.violations += 1
        if len(self.examples) < MAX_EXAMPLES and message not in self.examples:
            self.examples.append(message)

    @property
    def ok(self) -> bool:
        return self.violations == 0 and self.rounds > 0

    @property
    def verdict(self) -> str:
        if self.violations:
            return "VIOLATED"
        return "holds" if self.rounds else "not run"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "phase": self.phase,
            "verdict": self.verdict,
            "violations": self.violations,
            "examples": self.examples,
            "checked": self.checked,
            "rounds": self.rounds,
            "skipped_rounds": self.skipped,
            "notes": self.notes,
        }


@dataclass
class Snapshot:
    transfers: dict[str, dict[str, Any]]
    wallets: dict[str, dict[str, Any]]
    wallet_verdicts: dict[str, str]
    """operation id -> verdict, from the wallets' marks and the operation records."""
    journal: dict[str, dict[str, Any]]
    """operation id -> journal document."""


@dataclass(frozen=True)
class Subscription:
    user_id: str
    endpoint_id: str
    receiver: str
    path: str
    steady: bool


class InvariantChecker:
    def __init__(
        self,
        *,
        mongo_url: str,
        redis_url: str,
        prefix: str,
        subscriptions: Sequence[Subscription],
        receivers: Sequence[ChaosReceiver],
        deliberate: Mapping[str, str] | None = None,
    ) -> None:
        self._mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            mongo_url, tz_aware=True, serverSelectionTimeoutMS=3000, connectTimeoutMS=3000
        )
        self._redis = Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=3)
        self._prefix = prefix
        self._subscriptions = {s.user_id: s for s in subscriptions}
        self._receivers = list(receivers)
        self.deliberate: dict[str, str] = dict(deliberate or {})
        self._checked_terminal: set[str] = set()
        self.before_endpoints: set[str] = set()
        """Sagas started before the webhook endpoints existed (the opening top-ups): no
        deliveries are owed for them."""
        self.min_balance_seen: int | None = None
        self.max_pending_seen: dict[str, int] = {}
        self.settle_s: float | None = None
        self.webhook_drain_s: float | None = None
        live = "live"
        final = "final"
        self.checks: dict[str, Check] = {
            c.name: c
            for c in (
                Check("no-negative-balance", "no wallet balance below zero, ever observed", live),
                Check(
                    "journal-balanced",
                    "every journal transaction balances (debits = credits, one currency)",
                    live,
                ),
                Check(
                    "saga-money-matches-outcome",
                    "a completed saga's money moved exactly once (debit, posting, credit; "
                    "nothing refunded or reversed); a failed one moved none (not both completed "
                    "and compensated)",
                    live,
                ),
                Check(
                    "refunds-within-original",
                    "a refund names a completed transfer, mirrors its amount, at most one per "
                    "transfer, never more money back than went",
                    live,
                ),
                Check(
                    "deliberate-failures-fail",
                    "transfers sent to fail (no funds, frozen destination, ledger fault) never "
                    "complete",
                    live,
                ),
                Check(
                    "sagas-terminal",
                    f"every saga terminal within {SETTLE_BOUND_S:.0f} s after the faults stop",
                    final,
                ),
                Check(
                    "money-conserved",
                    "per currency: wallet balances + funding accounts = 0 in the zero-sum "
                    "ledger, and wallet balances = completed top-ups",
                    final,
                ),
                Check(
                    "wallets-equal-ledger", "every wallet balance equals its ledger account", final
                ),
                Check(
                    "reconciliation-ok",
                    "GET /v1/admin/reconciliation (as the bootstrap admin) answers ok",
                    final,
                ),
                Check(
                    "webhooks-delivered",
                    "every event reached every subscribed steady endpoint (2xx) at least once; "
                    "a flaky endpoint got it or its delivery failed during that receiver's faults",
                    final,
                ),
                Check(
                    "webhook-id-stable",
                    "repeats of one event to one endpoint carry one webhook-id (the event id), "
                    "and only subscribers receive it",
                    final,
                ),
                Check("nothing-pending", "XPENDING is 0 for every stream's consumer group", final),
                Check(
                    "dead-letters-explained",
                    "every dead-lettered message's saga is terminal (commands, replies) or its "
                    "event was stored anyway (events)",
                    final,
                ),
            )
        }

    async def note_existing_sagas(self) -> None:
        self.before_endpoints = {
            d["_id"]
            async for d in self._db("orchestrator").transfers.find({}, projection={"_id": 1})
        }

    async def aclose(self) -> None:
        await self._mongo.close()
        await self._redis.aclose()

    def _db(self, service: str) -> Any:
        return self._mongo[f"{self._prefix}_{service}"]

    def stream(self, name: str) -> str:
        return f"{self._prefix}:stream:{name}"

    # ------------------------------------------------------------------ reads

    async def load(self) -> Snapshot:
        """Transfers first, then wallets, then operation records, then the journal: a saga
        terminal in the first read has all its participants' decisions in the later ones
        (participants record before they reply), and a wallet mark pruned after the wallet read
        is already among the records read after it."""
        transfers = {
            d["_id"]: d
            async for d in self._db("orchestrator").transfers.find(
                {}, projection={"history": 0, "traceparent": 0, "faults": 0}
            )
        }
        wallets: dict[str, dict[str, Any]] = {}
        verdicts: dict[str, str] = {}
        async for wallet in self._db("wallet").wallets.find({}):
            wallets[wallet["_id"]] = wallet
            for key, mark in (wallet.get("marks") or {}).items():
                verdicts[operation_of(key)] = str(mark["v"] if isinstance(mark, dict) else mark)
        async for record in self._db("wallet").wallet_operations.find(
            {}, projection={"verdict": 1}
        ):
            verdicts[record["_id"]] = str(record["verdict"])
        journal = {d["_id"]: d async for d in self._db("ledger").journal.find({})}
        return Snapshot(transfers, wallets, verdicts, journal)

    # ------------------------------------------------------------------ live checks

    async def live_round(self) -> bool:
        """One round of the live checks; False when a store did not answer (round skipped)."""
        live = [c for c in self.checks.values() if c.phase == "live"]
        try:
            snapshot = await self.load()
        except (PyMongoError, OSError):
            for check in live:
                check.skipped += 1
            return False
        self._check_balances(snapshot)
        self._check_journal(snapshot)
        self._check_sagas(snapshot, only_new=True)
        self._check_refunds(snapshot)
        self._check_deliberate(snapshot)
        for check in live:
            check.rounds += 1
        await self._sample_pending()
        return True

    def _check_balances(self, snapshot: Snapshot) -> None:
        check = self.checks["no-negative-balance"]
        for wallet in snapshot.wallets.values():
            check.checked += 1
            balance = int(wallet["balance"])
            if self.min_balance_seen is None or balance < self.min_balance_seen:
                self.min_balance_seen = balance
            if balance < 0:
                check.violate(f"wallet {wallet['_id']} balance {balance}")

    def _check_journal(self, snapshot: Snapshot) -> None:
        check = self.checks["journal-balanced"]
        for doc in snapshot.journal.values():
            transaction = doc.get("transaction")
            if not transaction:
                continue
            check.checked += 1
            debits = sum(e["amount"] for e in transaction["entries"] if e["direction"] == "debit")
            credits = sum(e["amount"] for e in transaction["entries"] if e["direction"] == "credit")
            if debits != credits or any(e["amount"] <= 0 for e in transaction["entries"]):
                check.violate(f"journal {doc['_id']}: debits {debits} != credits {credits}")

    def _money_effect(self, snapshot: Snapshot, transfer: dict[str, Any]) -> dict[str, Any]:
        """What the participants did for one saga: amounts out of the source, into the
        destination, and whether the ledger holds its posting (not reversed)."""
        saga = transfer["_id"]
        verdict = snapshot.wallet_verdicts.get
        journal = snapshot.journal.get
        amount = int(transfer["amount"])
        debited = verdict(f"{saga}:debit_source") == "debited"
        refunded = verdict(f"{saga}:refund_source") == "refunded"
        credited = verdict(f"{saga}:credit_destination") == "credited"
        post_step = "post_top_up" if transfer["kind"] == "top_up" else "post_transfer"
        posting = journal(f"{saga}:{post_step}") or {}
        reversal = journal(f"{saga}:reverse_posting") or {}
        return {
            "source_out": amount if debited and not refunded else 0,
            "destination_in": amount if credited else 0,
            "posted": posting.get("verdict") == "posted" and reversal.get("verdict") != "reversed",
            "debited": debited,
            "refunded": refunded,
            "reversed": reversal.get("verdict") == "reversed",
        }

    def _check_sagas(self, snapshot: Snapshot, *, only_new: bool) -> None:
        check = self.checks["saga-money-matches-outcome"]
        for saga, transfer in snapshot.transfers.items():
            state = transfer["state"]
            if state not in TERMINAL_STATES or (only_new and saga in self._checked_terminal):
                continue
            self._checked_terminal.add(saga)
            check.checked += 1
            effect = self._money_effect(snapshot, transfer)
            amount = int(transfer["amount"])
            top_up = transfer["kind"] == "top_up"
            if state == "completed":
                expected = {
                    "source_out": 0 if top_up else amount,
                    "destination_in": amount,
                    "posted": True,
                }
            else:
                expected = {"source_out": 0, "destination_in": 0, "posted": False}
            found = {k: effect[k] for k in expected}
            if found != expected:
                check.violate(
                    f"{saga} ({transfer['kind']}, {state}, {amount}): expected {expected}, "
                    f"found {effect}"
                )

    def _check_refunds(self, snapshot: Snapshot) -> None:
        check = self.checks["refunds-within-original"]
        by_original: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for transfer in snapshot.transfers.values():
            if transfer["kind"] == "refund":
                by_original[str(transfer.get("refund_of"))].append(transfer)
        for original_id, refunds in by_original.items():
            check.checked += 1
            original = snapshot.transfers.get(original_id)
            if original is None:
                check.violate(f"refund(s) {[r['_id'] for r in refunds]} of unknown {original_id}")
                continue
            if len(refunds) > 1:
                check.violate(f"{original_id} has {len(refunds)} refunds")
            if original["kind"] != "transfer" or original["state"] != "completed":
                check.violate(f"{original_id} ({original['kind']}, {original['state']}) refunded")
            back = sum(int(r["amount"]) for r in refunds if r["state"] == "completed")
            if back > int(original["amount"]):
                check.violate(f"{original_id}: {back} refunded of {original['amount']}")
            for refund in refunds:
                mirrored = (
                    refund["source_wallet_id"] == original["destination_wallet_id"]
                    and refund["destination_wallet_id"] == original["source_wallet_id"]
                    and int(refund["amount"]) <= int(original["amount"])
                )
                if not mirrored:
                    check.violate(f"refund {refund['_id']} does not mirror {original_id}")

    def _check_deliberate(self, snapshot: Snapshot) -> None:
        check = self.checks["deliberate-failures-fail"]
        for saga, kind in self.deliberate.items():
            transfer = snapshot.transfers.get(saga)
            if transfer is None or transfer["state"] not in TERMINAL_STATES:
                continue
            check.checked += 1
            if transfer["state"] == "completed":
                check.violate(f"{saga} sent as {kind} completed")

    async def _sample_pending(self) -> None:
        with _suppress_store_errors():
            for name, group in STREAM_GROUPS.items():
                summary = await self._redis.xpending(self.stream(name), group)
                pending = int(summary.get("pending", 0))
                self.max_pending_seen[name] = max(self.max_pending_seen.get(name, 0), pending)

    # ------------------------------------------------------------------ settling

    async def wait_terminal(self, quiet_since: float, traffic: asyncio.Task[Any]) -> None:
        """Watch the sagas in flight until there are none and the `traffic` (which may still
        start a saga: a client retrying) is over. Violated when a saga is still in flight
        `SETTLE_BOUND_S` after `quiet_since` (time.monotonic() when the last fault was over),
        or was at any poll after that."""
        check = self.checks["sagas-terminal"]
        deadline = quiet_since + SETTLE_BOUND_S
        active: list[dict[str, Any]] = []
        last_busy = time.monotonic()  # the first look, if nothing is in flight by then
        while True:
            try:
                active = [
                    d
                    async for d in self._db("orchestrator").transfers.find(
                        {"state": {"$nin": sorted(TERMINAL_STATES)}},
                        projection={"state": 1, "kind": 1, "history": 1, "updated_at": 1},
                    )
                ]
            except (PyMongoError, OSError):
                active = [{"_id": "?", "state": "store unavailable"}]
            now = time.monotonic()
            if active:
                last_busy = now
            if (not active and traffic.done()) or (active and now > deadline):
                break
            await asyncio.sleep(0.5)
        check.rounds += 1
        self.settle_s = max(0.0, last_busy - quiet_since)
        for saga in active:
            history = saga.get("history") or []
            last = history[-1] if history else {}
            check.violate(
                f"{saga['_id']} still {saga.get('state')} "
                f"(last: {last.get('reason', '?')} at {last.get('at', '?')})"
            )
        if not active and self.settle_s > SETTLE_BOUND_S:
            check.violate(f"sagas were in flight until {self.settle_s:.1f} s after the faults")
        check.notes.append(
            f"every saga terminal {self.settle_s:.1f} s after the last fault was over"
            if not active
            else f"{len(active)} saga(s) still in flight {SETTLE_BOUND_S:.0f} s after the faults"
        )

    # ------------------------------------------------------------------ final checks

    async def final(self, reconciliation: dict[str, Any] | None, drain_timeout_s: float) -> None:
        snapshot = await self.load()
        self.checks["sagas-terminal"].checked = len(snapshot.transfers)
        self._check_balances(snapshot)
        self._check_journal(snapshot)
        self._check_sagas(snapshot, only_new=False)
        self._check_refunds(snapshot)
        self._check_deliberate(snapshot)
        for check in self.checks.values():
            if check.phase == "live":
                check.rounds += 1
        self._check_conservation(snapshot)
        self._check_reconciliation(reconciliation)
        await self._check_webhooks(snapshot, drain_timeout_s)
        await self._check_pending()
        await self._check_dead_letters(snapshot)

    def _check_conservation(self, snapshot: Snapshot) -> None:
        conserved = self.checks["money-conserved"]
        equal = self.checks["wallets-equal-ledger"]
        conserved.rounds += 1
        equal.rounds += 1
        accounts: dict[str, int] = defaultdict(int)
        account_currency: dict[str, str] = {}
        for doc in snapshot.journal.values():
            transaction = doc.get("transaction")
            if not transaction:
                continue
            for entry in transaction["entries"]:
                sign = 1 if entry["direction"] == "credit" else -1
                accounts[entry["account"]] += sign * int(entry["amount"])
                account_currency[entry["account"]] = transaction["currency"]
        ledger_total: dict[str, int] = defaultdict(int)
        funding: dict[str, int] = defaultdict(int)
        for account, balance in accounts.items():
            currency = account_currency[account]
            ledger_total[currency] += balance
            if account.startswith("funding:"):
                funding[currency] += balance
        wallets_total: dict[str, int] = defaultdict(int)
        for wallet in snapshot.wallets.values():
            equal.checked += 1
            wallets_total[wallet["currency"]] += int(wallet["balance"])
            ledger_balance = accounts.get(wallet["_id"], 0)
            if int(wallet["balance"]) != ledger_balance:
                equal.violate(
                    f"wallet {wallet['_id']}: balance {wallet['balance']}, ledger {ledger_balance}"
                )
        topped_up: dict[str, int] = defaultdict(int)
        for transfer in snapshot.transfers.values():
            if transfer["kind"] == "top_up" and transfer["state"] == "completed":
                topped_up[transfer["currency"]] += int(transfer["amount"])
        for currency in sorted(set(ledger_total) | set(wallets_total) | set(topped_up)):
            conserved.checked += 1
            figures = (
                f"{currency}: wallets {wallets_total[currency]}, funding {funding[currency]}, "
                f"ledger sum {ledger_total[currency]}, completed top-ups {topped_up[currency]}"
            )
            conserved.notes.append(figures)
            if ledger_total[currency] != 0:
                conserved.violate(f"the ledger does not sum to zero: {figures}")
            if wallets_total[currency] + funding[currency] != 0:
                conserved.violate(f"wallets + funding != 0: {figures}")
            if wallets_total[currency] != topped_up[currency]:
                conserved.violate(f"wallets != completed top-ups: {figures}")

    def _check_reconciliation(self, report: dict[str, Any] | None) -> None:
        check = self.checks["reconciliation-ok"]
        check.rounds += 1
        check.checked += 1
        if report is None:
            check.violate("the reconciliation route did not answer")
            return
        check.notes.append(
            f"wallets_checked={report.get('wallets_checked')} "
            f"ledger_balanced={report.get('ledger_balanced')} "
            f"stuck_transfers={report.get('stuck_transfers')} "
            f"mismatches={len(report.get('mismatches') or [])}"
        )
        if not report.get("ok"):
            check.violate(f"not ok: {json.dumps(report)[:500]}")

    def _expected_deliveries(self, snapshot: Snapshot) -> dict[tuple[str, str, str], Subscription]:
        """(endpoint path on its receiver, event type, transfer id) -> subscription."""
        expected: dict[tuple[str, str, str], Subscription] = {}
        for saga, transfer in snapshot.transfers.items():
            if transfer["state"] not in TERMINAL_STATES or saga in self.before_endpoints:
                continue
            final_type = (
                "transfer.completed" if transfer["state"] == "completed" else "transfer.failed"
            )
            for owner in transfer.get("owner_ids") or []:
                subscription = self._subscriptions.get(owner)
                if subscription is None:
                    continue
                for event_type in ("transfer.created", final_type):
                    key = (f"{subscription.receiver}{subscription.path}", event_type, saga)
                    expected[key] = subscription
        return expected

    def _receipts(self) -> dict[tuple[str, str, str], list[Receipt]]:
        found: dict[tuple[str, str, str], list[Receipt]] = defaultdict(list)
        for receiver in self._receivers:
            for receipt in receiver.snapshot():
                found[
                    (f"{receipt.receiver}{receipt.path}", receipt.event_type, receipt.transfer_id)
                ].append(receipt)
        return found

    def _missing(
        self, expected: Mapping[tuple[str, str, str], Subscription]
    ) -> list[tuple[str, str, str]]:
        receipts = self._receipts()
        return [key for key in expected if not any(r.delivered for r in receipts.get(key, ()))]

    async def _delivery_status(
        self,
        missing: Iterable[tuple[str, str, str]],
        expected: Mapping[tuple[str, str, str], Subscription],
    ) -> dict[tuple[str, str, str], str]:
        """The webhooks service's delivery status of each missing (endpoint, event): pending,
        succeeded, failed, or `no delivery` / `no event`."""
        db = self._db("webhooks")
        status: dict[tuple[str, str, str], str] = {}
        for key in missing:
            _, event_type, transfer_id = key
            event = await db.webhook_events.find_one(
                {"transfer_id": transfer_id, "type": event_type}, projection={"_id": 1}
            )
            if event is None:
                status[key] = "no event"
                continue
            delivery = await db.webhook_deliveries.find_one(
                {"event_id": event["_id"], "endpoint_id": expected[key].endpoint_id},
                projection={"status": 1},
            )
            status[key] = "no delivery" if delivery is None else str(delivery["status"])
        return status

    async def _check_webhooks(self, snapshot: Snapshot, drain_timeout_s: float) -> None:
        delivered = self.checks["webhooks-delivered"]
        stable = self.checks["webhook-id-stable"]
        delivered.rounds += 1
        stable.rounds += 1
        expected = self._expected_deliveries(snapshot)
        began = time.monotonic()
        # Deliveries settle after the sagas: wait until every expected one arrived, or the
        # service has given each missing one up (failed), or the drain bound passes.
        while True:
            missing = self._missing(expected)
            if not missing:
                break
            try:
                status = await self._delivery_status(missing, expected)
            except (PyMongoError, OSError):
                status = {}
            if status and all(s == "failed" for s in status.values()):
                break
            if time.monotonic() - began > drain_timeout_s:
                break
            await asyncio.sleep(1.0)
        self.webhook_drain_s = time.monotonic() - began
        missing = self._missing(expected)
        status = await self._delivery_status(missing, expected) if missing else {}
        delivered.checked += len(expected)
        given_up: Counter[str] = Counter()
        for key in missing:
            subscription = expected[key]
            state = status.get(key, "unknown")
            if not subscription.steady and state == "failed":
                given_up[subscription.receiver] += 1
                continue
            delivered.violate(
                f"{key[1]} of {key[2]} never reached {key[0]} "
                f"({'steady' if subscription.steady else 'flaky'} endpoint; delivery {state})"
            )
        for receiver, count in sorted(given_up.items()):
            delivered.notes.append(
                f"{count} delivery(ies) to flaky receiver {receiver} failed after the retry "
                "schedule during its faults (recorded as failed by the webhooks service)"
            )
        delivered.notes.append(
            f"{len(expected) - len(missing)}/{len(expected)} expected deliveries arrived; "
            f"drain {self.webhook_drain_s:.1f} s"
        )
        by_path = {f"{s.receiver}{s.path}": s for s in self._subscriptions.values()}
        for (path, event_type, transfer_id), receipts in self._receipts().items():
            stable.checked += 1
            ids = {r.webhook_id for r in receipts}
            if len(ids) != 1 or ids != {receipts[0].event_id}:
                stable.violate(
                    f"{event_type} of {transfer_id} to {path}: webhook-ids {sorted(ids)}"
                )
            transfer = snapshot.transfers.get(transfer_id)
            subscriber = by_path.get(path)
            if (
                transfer is None
                or subscriber is None
                or subscriber.user_id not in (transfer.get("owner_ids") or [])
            ):
                stable.violate(f"{event_type} of {transfer_id} reached {path}, not a subscriber")
        repeats = sum(max(0, len(r) - 1) for r in self._receipts().values())
        stable.notes.append(f"{repeats} repeated deliveries, each with its event's webhook-id")

    async def _check_pending(self) -> None:
        check = self.checks["nothing-pending"]
        check.rounds += 1
        # A message being handled right now is pending for a moment; one left by a dead
        # consumer is reclaimed once idle; one whose handler keeps failing is dead-lettered
        # after its deliveries. Give all three the time to settle.
        deadline = time.monotonic() + 60.0
        while True:
            pending: dict[str, int] = {}
            for name, group in STREAM_GROUPS.items():
                summary = await self._redis.xpending(self.stream(name), group)
                pending[name] = int(summary.get("pending", 0))
            if not any(pending.values()) or time.monotonic() > deadline:
                break
            await asyncio.sleep(1.0)
        for name, count in pending.items():
            check.checked += 1
            if count:
                check.violate(f"{count} message(s) pending on {name} (group {STREAM_GROUPS[name]})")
        check.notes.append(
            "most pending seen during the run: "
            + ", ".join(f"{k} {v}" for k, v in sorted(self.max_pending_seen.items()))
        )

    async def _check_dead_letters(self, snapshot: Snapshot) -> None:
        check = self.checks["dead-letters-explained"]
        check.rounds += 1
        events = self._db("webhooks").webhook_events
        explained: Counter[str] = Counter()
        for name in STREAM_GROUPS:
            dead = f"{self.stream(name)}:dead"
            for entry_id, fields in await self._redis.xrange(dead):
                check.checked += 1
                reason = fields.get(b"reason", b"?").decode()
                try:
                    envelope = json.loads(fields.get(b"envelope", b"{}"))
                except ValueError:
                    check.violate(f"{dead} {entry_id!r}: unreadable ({reason})")
                    continue
                saga = envelope.get("saga_id")
                kind = envelope.get("type")
                if name == "transfer-events":
                    event_id = (envelope.get("payload") or {}).get("event_id")
                    stored = await events.find_one({"_id": event_id}, projection={"_id": 1})
                    explanation = "its event was stored by another copy" if stored else None
                else:
                    transfer = snapshot.transfers.get(str(saga))
                    terminal = transfer is not None and transfer["state"] in TERMINAL_STATES
                    explanation = "its saga ended through a re-sent message" if terminal else None
                line = f"{name}: {kind} of {saga} ({reason})"
                if explanation is None:
                    check.violate(f"{line}: unexplained")
                else:
                    explained[f"{name}, {reason}: {explanation}"] += 1
        check.notes += [f"{count} x {why}" for why, count in sorted(explained.items())]


class _suppress_store_errors:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> bool:
        return kind is not None and issubclass(kind, RedisError | PyMongoError | OSError)
