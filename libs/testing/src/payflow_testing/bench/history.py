"""`--history N`: N past transfers' worth of documents in every service's store, quickly.

Running 100,000 transfers through the system to test how cost grows with history would take
longer than the benchmark itself, so the documents the warm-up's real transfers left behind are
cloned instead, with fresh ids, into every collection a transfer writes to: the sagas, the wallet
operation records, the journal, the webhook events, deliveries and attempts. The clones belong to
made-up users, wallets and accounts (each journal transaction stays balanced), and every one is
settled (terminal, nothing due, nothing owed), as history is: the live wallets, balances and
ledger accounts of the benchmark are untouched.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from pymongo import AsyncMongoClient

Rewrite = Callable[[dict[str, Any], str], dict[str, Any] | None]

BATCH = 1_000


def _tag(n: int) -> str:
    # Hex like every id, and 20 digits long where live ids have 24: never equal to one.
    return "ffff" + format(n, "016x")


def _position(position: Any, new_id: str) -> Any:
    """The same place in time (`<millis>|<id>`), under the clone's id."""
    if not position:
        return position
    return str(position).split("|", 1)[0] + "|" + new_id


def _hist(value: str, tag: str) -> str:
    """An id of the same shape (`<prefix>_<hex>`) that no live record has."""
    prefix = value.split("_", 1)[0] if "_" in value else "x"
    return f"{prefix}_{tag}"


def transfer_clone(doc: dict[str, Any], tag: str) -> dict[str, Any] | None:
    if doc.get("due_at_ms") is not None or doc.get("owes_events_since_ms") is not None:
        return None  # only settled sagas are history
    out = copy.deepcopy(doc)
    out["_id"] = f"tr_{tag}"
    out["idempotency_key"] = f"history-{tag}"
    out["initiator_id"] = f"usr_{tag}"
    out["owner_ids"] = [f"usr_{tag}", f"usr_{tag}1"]
    out["source_wallet_id"] = f"wal_{tag}" if out.get("source_wallet_id") else None
    out["destination_wallet_id"] = f"wal_{tag}1"
    out["position"] = _position(out.get("position"), f"tr_{tag}")
    out["refund_of"] = None
    return out


def wallet_operation_clone(doc: dict[str, Any], tag: str) -> dict[str, Any] | None:
    out = copy.deepcopy(doc)
    out["_id"] = f"tr_{tag}:{doc.get('step', 'step')}"
    out["saga_id"] = f"tr_{tag}"
    out["wallet_id"] = f"wal_{tag}"
    return out


def journal_clone(doc: dict[str, Any], tag: str) -> dict[str, Any] | None:
    out = copy.deepcopy(doc)
    out["_id"] = f"tr_{tag}:{doc.get('step', 'step')}"
    out["saga_id"] = f"tr_{tag}"
    transaction = out.get("transaction")
    if transaction:
        renamed: dict[str, str] = {}
        for entry in transaction.get("entries", []):
            account = entry["account"]
            renamed.setdefault(account, f"{_hist(account, tag)}{len(renamed)}")
            entry["account"] = renamed[account]
        transaction["id"] = f"jtx_{tag}"
        out["accounts"] = sorted(renamed.values())
        out["position"] = _position(out.get("position"), f"jtx_{tag}")
    return out


def event_clone(doc: dict[str, Any], tag: str) -> dict[str, Any] | None:
    out = copy.deepcopy(doc)
    out["_id"] = f"evt_{tag}"
    out["transfer_id"] = f"tr_{tag}"
    out["owner_ids"] = [f"usr_{tag}"]
    out["position"] = _position(out.get("position"), f"evt_{tag}")
    return out


def delivery_clone(doc: dict[str, Any], tag: str) -> dict[str, Any] | None:
    if doc.get("due_at_ms") is not None or doc.get("status") == "pending":
        return None
    out = copy.deepcopy(doc)
    out["_id"] = f"del_{tag}"
    out["event_id"] = f"evt_{tag}"
    out["owner_id"] = f"usr_{tag}"
    out["endpoint_id"] = f"we_{tag}"
    out["position"] = _position(out.get("position"), f"del_{tag}")
    return out


def attempt_clone(doc: dict[str, Any], tag: str) -> dict[str, Any] | None:
    out = copy.deepcopy(doc)
    out["_id"] = f"att_{tag}"
    out["delivery_id"] = f"del_{tag}"
    return out


# (service, collection, how a clone is made, clones per past transfer)
COLLECTIONS: tuple[tuple[str, str, Rewrite], ...] = (
    ("orchestrator", "transfers", transfer_clone),
    ("wallet", "wallet_operations", wallet_operation_clone),
    ("ledger", "journal", journal_clone),
    ("webhooks", "webhook_events", event_clone),
    ("webhooks", "webhook_deliveries", delivery_clone),
    ("webhooks", "webhook_attempts", attempt_clone),
)


async def clone_history(
    mongo_url: str, database_prefix: str, transfers: int, report: Callable[[str], None]
) -> dict[str, int]:
    """Insert about `transfers` past transfers' documents into each collection; answers how many
    documents went into each."""
    client: Any = AsyncMongoClient(mongo_url, tz_aware=True)
    written: dict[str, int] = {}
    try:
        live = await _live_transfers(client, database_prefix)
        for service, name, rewrite in COLLECTIONS:
            collection = client[f"{database_prefix}_{service}"][name]
            templates = [d async for d in collection.find({}).limit(500)]
            stored: int = await collection.count_documents({})
            wanted = round(transfers * stored / max(1, live))
            count, batch, n = 0, [], 0
            while templates and count < wanted:
                template = templates[n % len(templates)]
                tag = _tag(n)
                n += 1
                clone = rewrite(template, tag)
                if clone is None:
                    if n > len(templates) and count == 0:
                        break  # no template qualifies
                    continue
                batch.append(clone)
                count += 1
                if len(batch) >= BATCH:
                    await collection.insert_many(batch, ordered=False)
                    batch = []
            if batch:
                await collection.insert_many(batch, ordered=False)
            written[f"{service}.{name}"] = count
            report(f"history: {count} documents into {service}.{name}")
    finally:
        await client.close()
    return written


async def _live_transfers(client: Any, database_prefix: str) -> int:
    count: int = await client[f"{database_prefix}_orchestrator"]["transfers"].count_documents({})
    return count
