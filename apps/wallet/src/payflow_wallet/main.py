"""Composition root of the wallet service: the one place that wires its adapters."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from payflow_contracts.streams import WALLET_GROUP
from payflow_messaging import BusSigner, ConsumerConfig, StreamConsumer, StreamPublisher
from payflow_service import ServiceRuntime, create_service_app
from payflow_wallet.api import router
from payflow_wallet.command_handlers import WalletCommandHandlers
from payflow_wallet.mark_pruner import MarkPruner
from payflow_wallet.mongo_repository import (
    MongoOperationLog,
    MongoWalletRepository,
    OperationDocument,
    WalletDocument,
)
from payflow_wallet.settings import WalletSettings
from payflow_wallet.wallet_operations import WalletOperations


def create_app(settings: WalletSettings | None = None) -> FastAPI:
    settings = settings or WalletSettings()

    @contextlib.asynccontextmanager
    async def compose(runtime: ServiceRuntime) -> AsyncIterator[None]:
        signer = BusSigner(settings.bus_keys())
        wallets = MongoWalletRepository()
        operations = MongoOperationLog()
        wallet_operations = WalletOperations(
            wallets, operations, max_attempts=settings.operation_max_attempts
        )
        handlers = WalletCommandHandlers(
            wallet_operations,
            StreamPublisher(runtime.redis, signer),
            settings.streams.saga_replies,
            faults_enabled=not settings.is_production,
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
        pruner = MarkPruner(wallets, operations)
        runtime.components.update(
            wallets=wallets,
            operations=operations,
            wallet_operations=wallet_operations,
            command_handlers=handlers,
            mark_pruner=pruner,
        )
        runtime.start_loop("wallet-commands", consumer.run(runtime.stopping))
        runtime.start_loop(
            "wallet-mark-pruner",
            pruner.run(settings.mark_prune_interval_s, runtime.stopping),
            upkeep=True,
        )
        yield

    return create_service_app(
        service="wallet",
        settings=settings,
        document_models=[WalletDocument, OperationDocument],
        routers=[router],
        compose=compose,
    )
