"""Typed dependencies of the orchestrator's routes, taken from its `Components`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from payflow_orchestrator.bootstrap import Components
from payflow_orchestrator.coordinator import TransferCoordinator
from payflow_orchestrator.payment_links import PaymentLinks
from payflow_orchestrator.ports import FaultRuleStore, TransferRepository
from payflow_orchestrator.refunds import RefundDesk
from payflow_orchestrator.settings import OrchestratorSettings
from payflow_service.components import provider

_components = provider(Components)
Comps = Annotated[Components, Depends(_components)]


async def _coordinator(c: Comps) -> TransferCoordinator:
    return c.coordinator


async def _transfers(c: Comps) -> TransferRepository:
    return c.transfers


async def _fault_rules(c: Comps) -> FaultRuleStore:
    return c.fault_rules


async def _refunds(c: Comps) -> RefundDesk:
    return c.refund_desk


async def _links(c: Comps) -> PaymentLinks:
    return c.payment_links


async def _settings(c: Comps) -> OrchestratorSettings:
    return c.settings


Coordinator = Annotated[TransferCoordinator, Depends(_coordinator)]
Transfers = Annotated[TransferRepository, Depends(_transfers)]
FaultRules = Annotated[FaultRuleStore, Depends(_fault_rules)]
Refunds = Annotated[RefundDesk, Depends(_refunds)]
Links = Annotated[PaymentLinks, Depends(_links)]
Settings = Annotated[OrchestratorSettings, Depends(_settings)]
