"""Composition root of the orchestrator: repositories, publisher, coordinator, consumer, sweeper."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from payflow_contracts.streams import ORCHESTRATOR_GROUP
from payflow_messaging import BusSigner, ConsumerConfig, StreamConsumer, StreamPublisher
from payflow_orchestrator.api import router
from payflow_orchestrator.coordinator import RedisLiveFeed, TransferCoordinator
from payflow_orchestrator.domain.transfer import Transfer
from payflow_orchestrator.fault_rules import (
    CachedFaultRuleStore,
    FaultRuleDocument,
    MongoFaultRuleStore,
)
from payflow_orchestrator.links_api import router as links_router
from payflow_orchestrator.payment_link_store import MongoPaymentLinkStore, PaymentLinkDocument
from payflow_orchestrator.payment_links import PaymentLinks
from payflow_orchestrator.refund_book import MongoRefundBook
from payflow_orchestrator.refunds import RefundDesk
from payflow_orchestrator.repository import MongoTransferRepository, TransferDocument
from payflow_orchestrator.reservations import ReservationKeeper, ReservationParents
from payflow_orchestrator.settings import OrchestratorSettings
from payflow_service import ServiceRuntime, create_service_app


def create_app(settings: OrchestratorSettings | None = None) -> FastAPI:
    settings = settings or OrchestratorSettings()

    @contextlib.asynccontextmanager
    async def compose(runtime: ServiceRuntime) -> AsyncIterator[None]:
        streams = settings.streams
        signer = BusSigner(settings.bus_keys())
        transfers = MongoTransferRepository(TransferDocument.get_pymongo_collection())
        await transfers.drop_retired_indexes()
        await transfers.backfill_work_fields()
        fault_rules = CachedFaultRuleStore(
            MongoFaultRuleStore(FaultRuleDocument.get_pymongo_collection()),
            runtime.redis,
            streams.key("fault-rules-generation"),
            max_age_s=settings.remembered_max_age_s,
        )
        coordinator = TransferCoordinator(
            transfers=transfers,
            fault_rules=fault_rules,
            publisher=StreamPublisher(runtime.redis, signer),
            live=RedisLiveFeed(runtime.redis, streams),
            streams=streams,
            policy=settings.timing_policy(),
            faults_enabled=not settings.is_production,
        )
        replies = StreamConsumer(
            runtime.redis,
            ConsumerConfig.from_settings(
                settings,
                stream=streams.saga_replies,
                group=ORCHESTRATOR_GROUP,
            ),
            signer,
        )
        replies.register("saga.step_reply.v1", coordinator.on_reply)
        refund_book = MongoRefundBook(TransferDocument.get_pymongo_collection())
        link_store = MongoPaymentLinkStore(PaymentLinkDocument.get_pymongo_collection())
        grace_ms = int(settings.reservation_grace_s * 1000)

        def parents_of(child: Transfer) -> tuple[ReservationParents, str] | None:
            if child.refund_of is not None:
                return refund_book, child.refund_of
            if child.payment_link_id is not None:
                return link_store, child.payment_link_id
            return None

        keeper = ReservationKeeper(
            transfers=transfers,
            parents_of=parents_of,
            all_parents=[refund_book, link_store],
            starter=coordinator,
            grace_ms=grace_ms,
        )
        coordinator.settle_terminal_with(keeper.settle_child)
        runtime.components.update(
            coordinator=coordinator,
            transfers=transfers,
            fault_rules=fault_rules,
            refund_desk=RefundDesk(transfers, refund_book, coordinator, grace_ms),
            payment_links=PaymentLinks(
                link_store,
                transfers,
                coordinator,
                settings.fees(),
                settings.max_transfer_amount,
                grace_ms,
            ),
        )
        runtime.start_loop("saga-replies", replies.run(runtime.stopping))
        runtime.start_loop(
            "saga-sweeper",
            coordinator.run_sweeper(settings.sweeper_interval_s, runtime.stopping),
            upkeep=True,
        )
        runtime.start_loop(
            "reservation-keeper",
            keeper.run(settings.sweeper_interval_s, runtime.stopping),
            upkeep=True,
        )
        yield

    return create_service_app(
        service="orchestrator",
        settings=settings,
        document_models=[TransferDocument, FaultRuleDocument, PaymentLinkDocument],
        routers=[router, links_router],
        compose=compose,
    )
