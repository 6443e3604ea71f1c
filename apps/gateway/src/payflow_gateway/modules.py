"""A slice of the public API as the composition root plugs it in: routers, documents, wiring."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from beanie import Document
from fastapi import APIRouter

from payflow_service import ServiceRuntime
from payflow_service.app import Compose


@dataclass(frozen=True)
class GatewayModule:
    routers: Sequence[APIRouter]
    documents: Sequence[type[Document]] = ()
    compose: Compose | None = None
    """Wires the module's adapters into `runtime.components`; entered in module order."""


def compose_modules(modules: Sequence[GatewayModule]) -> Compose:
    @contextlib.asynccontextmanager
    async def compose(runtime: ServiceRuntime) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for module in modules:
                if module.compose is not None:
                    await stack.enter_async_context(module.compose(runtime))
            yield

    return compose
