"""Wiring of the payment routes, called from the gateway's composition root."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from beanie import Document
from fastapi import APIRouter

from payflow_gateway.modules import GatewayModule
from payflow_gateway.payments.idempotency_store import (
    IdempotencyRecordDocument,
    MongoIdempotencyStore,
    RedisIdempotencyStore,
)
from payflow_gateway.payments.live_transfers import LiveTransfers
from payflow_gateway.payments.operations_api import admin_router, sandbox_router
from payflow_gateway.payments.services import HttpPaymentServices
from payflow_gateway.payments.transfers_api import router as transfers_router
from payflow_gateway.settings import GatewaySettings
from payflow_service import ServiceRuntime

PAYMENT_DOCUMENTS: list[type[Document]] = [IdempotencyRecordDocument]


def payment_routers() -> list[APIRouter]:
    return [transfers_router, admin_router, sandbox_router]


@contextlib.asynccontextmanager
async def compose_payments(runtime: ServiceRuntime) -> AsyncIterator[None]:
    orchestrator = runtime.client_for("orchestrator", timeout=15.0)
    wallet = runtime.client_for("wallet")
    ledger = runtime.client_for("ledger")
    runtime.components["payment_services"] = HttpPaymentServices(orchestrator, wallet, ledger)
    settings = runtime.settings
    assert isinstance(settings, GatewaySettings)
    runtime.components["idempotency_store"] = (
        RedisIdempotencyStore(runtime.redis, settings.streams.prefix)
        if settings.idempotency_store == "redis"
        else MongoIdempotencyStore(IdempotencyRecordDocument.get_pymongo_collection())
    )
    live = LiveTransfers(runtime.redis, runtime.settings.streams.transfer_channel(""))
    runtime.components["live_transfers"] = live
    live.start()
    try:
        yield
    finally:
        await live.stop()
        for client in (orchestrator, wallet, ledger):
            await client.aclose()


def payments_module() -> GatewayModule:
    return GatewayModule(
        routers=payment_routers(), documents=PAYMENT_DOCUMENTS, compose=compose_payments
    )
