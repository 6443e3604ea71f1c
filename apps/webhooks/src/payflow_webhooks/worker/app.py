"""Composition root of webhooks-worker: health and metrics over HTTP, the ARQ worker beside it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
from fastapi import FastAPI

from payflow_observability.store_metrics import as_upkeep
from payflow_service import ServiceRuntime, create_service_app
from payflow_webhooks.delivery_queue import ArqDeliveryQueue, open_arq_pool, queue_name
from payflow_webhooks.settings import WebhooksSettings
from payflow_webhooks.stores import DOCUMENT_MODELS, mongo_stores
from payflow_webhooks.url_guard import SystemResolver, UrlGuard
from payflow_webhooks.worker.courier import WebhookCourier
from payflow_webhooks.worker.runner import DeliveryWorker, build_arq_worker
from payflow_webhooks.worker.sender import WebhookSender
from payflow_webhooks.worker.sweeper import StalledDeliverySweeper

USER_AGENT = "PayFlow-Webhooks/1.0"


def create_app(settings: WebhooksSettings | None = None) -> FastAPI:
    settings = settings or WebhooksSettings(service_name="webhooks")

    @contextlib.asynccontextmanager
    async def compose(runtime: ServiceRuntime) -> AsyncIterator[None]:
        streams = settings.streams
        stores = mongo_stores(
            runtime.redis,
            settings.streams.key("webhook-endpoints-generation"),
            settings.remembered_max_age_s,
        )
        guard = UrlGuard(allow_private=settings.private_urls_allowed, resolver=SystemResolver())
        # trust_env=False: no proxy from the environment gets to see or redirect deliveries.
        client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.webhook_timeout_s),
            follow_redirects=False,
            trust_env=False,
            headers={"user-agent": USER_AGENT},
        )
        courier = WebhookCourier(
            endpoints=stores.endpoints,
            events=stores.events,
            deliveries=stores.deliveries,
            sender=WebhookSender(client, guard, settings.webhook_timeout_s),
            policy=settings.retry_policy(),
            disable_after=timedelta(seconds=settings.webhook_disable_after_s),
        )
        pool = await open_arq_pool(settings.redis_url, streams)
        queue = ArqDeliveryQueue(pool, queue_name(streams), settings.job_lifetime())
        worker = DeliveryWorker(build_arq_worker(settings, pool, courier))
        sweeper = StalledDeliverySweeper(
            stores.deliveries, queue, timedelta(seconds=settings.webhook_sweeper_grace_s)
        )
        runtime.components.update(courier=courier, queue=queue, worker=worker, sweeper=sweeper)
        stop = asyncio.Event()
        worker.start()
        sweeper_task = asyncio.create_task(
            as_upkeep(sweeper.run(settings.webhook_sweeper_interval_s, stop)),
            name="delivery-sweeper",
        )
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(sweeper_task, return_exceptions=True)
            await worker.stop()  # closes the ARQ pool the sweeper shared
            await client.aclose()

    return create_service_app(
        service="webhooks-worker",
        settings=settings,
        document_models=DOCUMENT_MODELS,
        compose=compose,
    )
