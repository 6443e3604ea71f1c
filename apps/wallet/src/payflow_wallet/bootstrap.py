"""Composition root of the wallet service: the one place that wires its adapters."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from payflow_contracts.streams import WALLET_GROUP
from payflow_messaging import BusSigner, ConsumerConfig, StreamConsumer, StreamPublisher
from payflow_messaging.participant import SagaParticipant
from payflow_service import ServiceRuntime
from payflow_service.app import Compose
from payflow_wallet.adapters.mongo import MongoOperationLog, MongoWalletRepository
from payflow_wallet.handlers import WalletCommandHandlers
from payflow_wallet.mark_pruner import MarkPruner
from payflow_wallet.ports import OperationLog, WalletRepository
from payflow_wallet.settings import WalletSettings
from payflow_wallet.wallet_operations import WalletOperations


@dataclass(frozen=True, slots=True)
class Components:
    settings: WalletSettings
    wallets: WalletRepository
    operations: OperationLog
    wallet_operations: WalletOperations
    handlers: WalletCommandHandlers
    pruner: MarkPruner


def compose(settings: WalletSettings) -> Compose:
    @contextlib.asynccontextmanager
    async def wire(runtime: ServiceRuntime) -> AsyncIterator[Components]:
        signer = BusSigner(settings.bus_keys())
        wallets = MongoWalletRepository()
        operations = MongoOperationLog()
        pruner = MarkPruner(
            wallets,
            operations,
            min_age_s=settings.mark_min_age_s,
            crowd=settings.mark_crowd,
        )
        wallet_operations = WalletOperations(
            wallets,
            operations,
            max_attempts=settings.operation_max_attempts,
            on_marked=pruner.note,
        )
        handlers = WalletCommandHandlers(
            wallet_operations,
            SagaParticipant(
                StreamPublisher(runtime.redis, signer),
                settings.streams.saga_replies,
                faults_enabled=not settings.is_production,
            ),
        )
        consumer = StreamConsumer(
            runtime.redis,
            ConsumerConfig.from_settings(
                settings,
                stream=settings.streams.wallet_commands,
                group=WALLET_GROUP,
                concurrency=settings.command_concurrency,
            ),
            signer,
        )
        handlers.register(consumer)
        runtime.start_loop("wallet-commands", consumer.run(runtime.stopping))
        runtime.start_loop(
            "wallet-mark-pruner",
            pruner.run(settings.mark_prune_interval_s, runtime.stopping),
            upkeep=True,
        )
        yield Components(
            settings=settings,
            wallets=wallets,
            operations=operations,
            wallet_operations=wallet_operations,
            handlers=handlers,
            pruner=pruner,
        )

    return wire
