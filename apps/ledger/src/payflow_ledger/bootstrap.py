"""Composition root of the ledger service: the one place that wires its adapters."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from beanie import Document

from payflow_contracts.streams import LEDGER_GROUP
from payflow_ledger.adapters.mongo import (
    AccountDocument,
    JournalDocument,
    MongoAccountStore,
    MongoJournal,
)
from payflow_ledger.handlers import LedgerCommandHandlers
from payflow_ledger.ledger_postings import LedgerPostings
from payflow_ledger.ports import AccountStore, Journal
from payflow_ledger.settings import LedgerSettings
from payflow_messaging import BusSigner, ConsumerConfig, StreamConsumer, StreamPublisher
from payflow_messaging.participant import SagaParticipant
from payflow_service import ServiceRuntime
from payflow_service.app import Compose

DOCUMENT_MODELS: tuple[type[Document], ...] = (AccountDocument, JournalDocument)


@dataclass(frozen=True, slots=True)
class Components:
    settings: LedgerSettings
    accounts: AccountStore
    journal: Journal
    postings: LedgerPostings
    handlers: LedgerCommandHandlers


def compose(settings: LedgerSettings) -> Compose:
    """The ledger's composition root: the stores, the postings, the command consumer."""

    @contextlib.asynccontextmanager
    async def composed(runtime: ServiceRuntime) -> AsyncIterator[Components]:
        signer = BusSigner(settings.bus_keys())
        accounts = MongoAccountStore()
        journal = MongoJournal()
        postings = LedgerPostings(accounts, journal)
        participant = SagaParticipant(
            StreamPublisher(runtime.redis, signer),
            settings.streams.saga_replies,
            faults_enabled=not settings.is_production,
        )
        handlers = LedgerCommandHandlers(postings, participant)
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
        runtime.start_loop("ledger-commands", consumer.run(runtime.stopping))
        yield Components(
            settings=settings,
            accounts=accounts,
            journal=journal,
            postings=postings,
            handlers=handlers,
        )

    return composed
