"""Sandbox fault rules: which step of which transfer a rule breaks, decided once per saga."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from payflow_contracts.saga import SagaStep
from payflow_orchestrator.domain.saga_machine import SagaKind
from payflow_orchestrator.domain.transfer import StepFault

FaultStep = Literal["debit", "ledger", "credit"]


class FaultRule(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: str
    owner_id: str
    step: FaultStep
    mode: Literal["reject", "error", "timeout"]
    rate: float = Field(default=1.0, ge=0, le=1)
    match_metadata: dict[str, str] = Field(default_factory=dict)


def saga_step_for(step: FaultStep, kind: SagaKind) -> SagaStep:
    if step == "debit":
        return SagaStep.DEBIT_SOURCE
    if step == "credit":
        return SagaStep.CREDIT_DESTINATION
    return SagaStep.POST_TOP_UP if kind == SagaKind.TOP_UP else SagaStep.POST_TRANSFER


def _draw(rule_id: str, transfer_id: str) -> float:
    """A deterministic draw in [0, 1): the same rule and transfer always decide the same way."""
    digest = hashlib.sha256(f"{rule_id}|{transfer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def faults_for(
    rules: Iterable[FaultRule], transfer_id: str, kind: SagaKind, metadata: Mapping[str, str]
) -> dict[str, StepFault]:
    """The faults a new saga carries, keyed by saga step; the first matching rule per step wins."""
    chosen: dict[str, StepFault] = {}
    for rule in rules:
        if any(metadata.get(k) != v for k, v in rule.match_metadata.items()):
            continue
        if _draw(rule.id, transfer_id) >= rule.rate:
            continue
        step = saga_step_for(rule.step, kind)
        if kind == SagaKind.TOP_UP and step == SagaStep.DEBIT_SOURCE:
            continue
        chosen.setdefault(step.value, StepFault(rule_id=rule.id, mode=rule.mode))
    return chosen
