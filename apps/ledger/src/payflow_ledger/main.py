"""Composition root of the ledger service: the one place that wires its adapters."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from payflow_contracts.streams import LEDGER_GROUP
from payflow_ledger.api import router
from payflow_ledger.command_handlers import LedgerCommandHandlers
from payflow_ledger.ledger_postings import LedgerPostings
from payflow_ledger.mongo_repository import (
    AccountDocument,
    JournalDocument,
    MongoAccountStore,
    MongoJournal,
)
from payflow_ledger.settings import LedgerSettings
from payflow_messaging import BusSigner, ConsumerConfig, StreamConsumer, StreamPublisher
from payflow_service import ServiceRuntime, create_service_app


def create_app(settings: LedgerSettings | None = None) -> FastAPI:
    settings = settings or LedgerSettings()

    @contextlib.asynccontextmanager
    async def compose(runtime: ServiceRuntime) -> AsyncIterator[None]:
        signer = BusSigner(settings.bus_keys())
        accounts = MongoAccountStore()
        journal = MongoJournal()
        postings = LedgerPostings(accounts, journal)
        handlers = LedgerCommandHandlers(
            postings,
            StreamPublisher(runtime.redis, signer),
            settings.streams.saga_replies,
            faults_enabled=not settings.is_production,
        )
        consumer = StreamConsumer(
            runtime.redis,
            ConsumerConfig.from_settings(
                settings,
                stream=settings.streams.ledger_commands,
                group=LEDGER_GROUP,
                concurrency=settings.command_concurrency,
            ),
            signer,
        )
        handlers.register(consumer)
        runtime.components.update(
            accounts=accounts, journal=journal, postings=postings, command_handlers=handlers
        )
        runtime.start_loop("ledger-commands", consumer.run(runtime.stopping))
        yield

    return create_service_app(
        service="ledger",
        settings=settings,
        document_models=[AccountDocument, JournalDocument],
        routers=[router],
        compose=compose,
    )
