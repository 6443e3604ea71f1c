"""Public routes for operators and sandbox users: reconciliation and fault injection."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Response

from payflow_gateway.auth.dependencies import AdminUser, CurrentUser
from payflow_gateway.domain.reconciliation import currency_totals
from payflow_gateway.payments.deps import Services, sandbox_only
from payflow_gateway.payments.schemas import FaultCreate, problems
from payflow_gateway.payments.transfers_api import public_transfer
from payflow_service import ProblemError

admin_router = APIRouter(prefix="/v1/admin", tags=["admin"])
sandbox_router = APIRouter(
    prefix="/v1/sandbox", tags=["sandbox"], dependencies=[Depends(sandbox_only)]
)


@admin_router.get(
    "/transfers/{transfer_id}",
    responses=problems(403, 404),
    summary="Any transfer, whoever its owners (administrators only): for an investigation",
)
async def admin_transfer(transfer_id: str, _: AdminUser, services: Services) -> dict[str, Any]:
    found = await services.transfer(transfer_id)
    if found is None:
        raise ProblemError(404, "transfer_not_found", "No such transfer.")
    return public_transfer(found)


@admin_router.get("/reconciliation", responses=problems(403))
async def reconciliation(_: AdminUser, services: Services) -> dict[str, Any]:
    """Every wallet against its ledger account, the journal's balance, money conservation per
    currency (wallets + fees = top-ups funded), and stuck sagas."""
    wallets, (balances, system), journal, stuck = await asyncio.gather(
        services.all_wallets(),
        services.ledger_balances(),
        services.journal_check(),
        services.stuck_sagas(),
    )
    mismatches = [
        {
            "wallet_id": wallet["id"],
            "wallet_balance": wallet["balance"],
            "ledger_balance": balances.get(wallet["id"], 0),
        }
        for wallet in wallets
        if wallet["balance"] != balances.get(wallet["id"], 0)
    ]
    ledger_balanced = bool(journal["balanced"])
    totals = currency_totals(((w["currency"], int(w["balance"])) for w in wallets), system)
    conserved = all(t.conserved for t in totals)
    return {
        "ok": not mismatches and ledger_balanced and conserved and stuck == 0,
        "wallets_checked": len(wallets),
        "mismatches": mismatches,
        "ledger_balanced": ledger_balanced,
        "money_conserved": conserved,
        "currencies": [
            {
                "currency": t.currency,
                "wallets": t.wallets,
                "fees": t.fees,
                "funded": t.funded,
                "conserved": t.conserved,
            }
            for t in totals
        ],
        "stuck_transfers": stuck,
    }


@sandbox_router.post("/faults", status_code=201, responses=problems(404, 409, 422))
async def add_fault(body: FaultCreate, user: CurrentUser, services: Services) -> dict[str, Any]:
    rule = await services.add_fault({"owner_id": user.id, **body.model_dump()})
    return {k: rule[k] for k in ("id", "step", "mode", "rate", "match_metadata")}


@sandbox_router.get("/faults", responses=problems(404))
async def list_faults(user: CurrentUser, services: Services) -> dict[str, Any]:
    rules = await services.faults(user.id)
    return {
        "data": [
            {k: r[k] for k in ("id", "step", "mode", "rate", "match_metadata")} for r in rules
        ],
        "next_cursor": None,
    }


@sandbox_router.delete("/faults/{fault_id}", status_code=204, responses=problems(404))
async def remove_fault(fault_id: str, user: CurrentUser, services: Services) -> Response:
    if not await services.remove_fault(user.id, fault_id):
        raise ProblemError(404, "fault_rule_not_found", "No such fault rule.")
    return Response(status_code=204)
