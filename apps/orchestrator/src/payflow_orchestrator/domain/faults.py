"""Sandbox fault rules: which step of which transfer a rule breaks, decided once per saga."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

from payflow_contracts.saga import SagaStep
from payflow_orchestrator.domain.saga_machine import SagaKind
from payflow_orchestrator.domain.transfer import FaultMode, StepFault

FaultStep = Literal["debit", "ledger", "credit"]
FAULT_STEPS: tuple[FaultStep, ...] = get_args(FaultStep)
FAULT_MODES: tuple[FaultMode, ...] = get_args(FaultMode)


@dataclass(frozen=True, slots=True)
class FaultRule:
    id: str
    owner_id: str
    step: FaultStep
    mode: FaultMode
    rate: float = 1.0
    """The share of matching transfers the rule breaks, from 0 to 1."""
    match_metadata: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.step not in FAULT_STEPS:
            raise ValueError(f"a fault rule's step is one of {FAULT_STEPS}")
        if self.mode not in FAULT_MODES:
            raise ValueError(f"a fault rule's mode is one of {FAULT_MODES}")
        if not 0 <= self.rate <= 1:
            raise ValueError("a fault rule's rate is from 0 to 1")


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
