"""The composition root of the orchestrator: stores, publisher, coordinator, the reply consumer,
the saga sweeper and the reservation keeper, wired once the runtime's stores are connected."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from payflow_messaging import BusSigner, StreamPublisher
from payflow_orchestrator.adapters.mongo import (
    FaultRuleDocument,
    MongoFaultRuleStore,
    MongoPaymentLinkStore,
    MongoRefundBook,
    MongoTransferRepository,
    PaymentLinkDocument,
    TransferDocument,
)
from payflow_orchestrator.adapters.redis import CachedFaultRuleStore, RedisLiveFeed
from payflow_orchestrator.coordinator import TransferCoordinator
from payflow_orchestrator.domain.transfer import Transfer
from payflow_orchestrator.handlers import saga_replies
from payflow_orchestrator.payment_links import PaymentLinks
from payflow_orchestrator.ports import FaultRuleStore, ReservationParents, TransferRepository
from payflow_orchestrator.refunds import RefundDesk
from payflow_orchestrator.reservations import ReservationKeeper
from payflow_orchestrator.settings import OrchestratorSettings
from payflow_service.app import Compose, ServiceRuntime


@dataclass(frozen=True, slots=True)
class Components:
    """What the routes use, composed once per process."""

    settings: OrchestratorSettings
    coordinator: TransferCoordinator
    transfers: TransferRepository
    fault_rules: FaultRuleStore
    refund_desk: RefundDesk
    payment_links: PaymentLinks


def compose(settings: OrchestratorSettings) -> Compose:
    """The orchestrator's composition root for `create_service_app`."""

    @contextlib.asynccontextmanager
    async def composed(runtime: ServiceRuntime) -> AsyncIterator[Components]:
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
        components = Components(
            settings=settings,
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
        replies = saga_replies(runtime.redis, settings, signer, coordinator)
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
        yield components

    return composed
