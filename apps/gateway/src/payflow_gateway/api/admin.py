"""Public routes for administrators: every user, any transfer, and the reconciliation report."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Response

from payflow_contracts.paging import encode_id_cursor
from payflow_contracts.transfers import TransferPublic
from payflow_gateway.api.schemas import Reconciliation, UserList, UserPublic
from payflow_gateway.api.transfers import transfer_response
from payflow_gateway.deps import AdminUser, Services, Users
from payflow_gateway.domain.errors import TransferNotFound
from payflow_gateway.domain.reconciliation import currency_totals
from payflow_gateway.problems import problem_responses
from payflow_service.paging import IdCursor

admin_router = APIRouter(prefix="/v1/admin", tags=["admin"])

Limit = Annotated[int, Query(ge=1, le=100)]


@admin_router.get(
    "/users", responses=problem_responses(401, 403, 422), summary="Every user (administrators only)"
)
async def list_users(_: AdminUser, users: Users, cursor: IdCursor, limit: Limit = 20) -> UserList:
    found = await users.page(limit + 1, cursor)
    more = len(found) > limit
    return UserList(
        data=[UserPublic.model_validate(u) for u in found[:limit]],
        next_cursor=encode_id_cursor(found[limit - 1].id) if more else None,
    )


@admin_router.get(
    "/transfers/{transfer_id}",
    response_model=TransferPublic,
    responses=problem_responses(401, 403, 404),
    summary="Any transfer, whoever its owners (administrators only): for an investigation",
)
async def admin_transfer(transfer_id: str, _: AdminUser, services: Services) -> Response:
    found = await services.transfer(transfer_id)
    if found is None:
        raise TransferNotFound(transfer_id)
    return transfer_response(found)


@admin_router.get("/reconciliation", responses=problem_responses(401, 403))
async def reconciliation(_: AdminUser, services: Services) -> Reconciliation:
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
    return Reconciliation.model_validate(
        {
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
    )
