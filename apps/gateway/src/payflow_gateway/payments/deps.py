"""Typed dependencies of the payment routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from payflow_gateway.payments.idempotency_store import IdempotencyStore
from payflow_gateway.payments.live_transfers import LiveTransfers
from payflow_gateway.payments.services import PaymentServices
from payflow_gateway.wallets.components import WalletComponents, wallet_components
from payflow_service import ProblemError
from payflow_settings import ServiceSettings


def _components(request: Request) -> dict[str, Any]:
    return request.app.state.runtime.components  # type: ignore[no-any-return]


async def payment_services(request: Request) -> PaymentServices:
    return _components(request)["payment_services"]  # type: ignore[no-any-return]


async def idempotency_store(request: Request) -> IdempotencyStore:
    return _components(request)["idempotency_store"]  # type: ignore[no-any-return]


async def live_transfers(request: Request) -> LiveTransfers:
    return _components(request)["live_transfers"]  # type: ignore[no-any-return]


async def settings(request: Request) -> ServiceSettings:
    return request.app.state.runtime.settings  # type: ignore[no-any-return]


async def sandbox_only(request: Request) -> None:
    if request.app.state.runtime.settings.is_production:
        raise ProblemError(404, "not_found", "Not found.")


Services = Annotated[PaymentServices, Depends(payment_services)]
Idempotency = Annotated[IdempotencyStore, Depends(idempotency_store)]
Live = Annotated[LiveTransfers, Depends(live_transfers)]
Settings = Annotated[ServiceSettings, Depends(settings)]
Wallets = Annotated[WalletComponents, Depends(wallet_components)]
