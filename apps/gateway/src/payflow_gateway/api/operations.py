"""Public routes for sandbox users: fault injection into their own transfers (not in production)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from payflow_gateway.api.schemas import FaultCreate, FaultRule, FaultRuleList
from payflow_gateway.deps import CurrentUser, Services, sandbox_only
from payflow_gateway.domain.errors import FaultRuleNotFound
from payflow_gateway.problems import problem_responses

sandbox_router = APIRouter(
    prefix="/v1/sandbox", tags=["sandbox"], dependencies=[Depends(sandbox_only)]
)


@sandbox_router.post("/faults", status_code=201, responses=problem_responses(401, 404, 409, 422))
async def add_fault(body: FaultCreate, user: CurrentUser, services: Services) -> FaultRule:
    rule = await services.add_fault({"owner_id": user.id, **body.model_dump()})
    return FaultRule.model_validate(rule)


@sandbox_router.get("/faults", responses=problem_responses(401, 404))
async def list_faults(user: CurrentUser, services: Services) -> FaultRuleList:
    rules = await services.faults(user.id)
    return FaultRuleList(data=[FaultRule.model_validate(r) for r in rules], next_cursor=None)


@sandbox_router.delete("/faults/{fault_id}", status_code=204, responses=problem_responses(401, 404))
async def remove_fault(fault_id: str, user: CurrentUser, services: Services) -> Response:
    if not await services.remove_fault(user.id, fault_id):
        raise FaultRuleNotFound(fault_id)
    return Response(status_code=204)
