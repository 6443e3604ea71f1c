"""Typed access to a process's components from its routes.

A service's `bootstrap.compose` yields one frozen `Components` dataclass; the runtime keeps it.
`provider(Components)` is the FastAPI dependency that hands it to a route, checked by type, so
a route never looks a dependency up by name:

    components = provider(Components)
    async def _wallets(c: Annotated[Components, Depends(components)]) -> WalletRepository:
        return c.wallets
    Wallets = Annotated[WalletRepository, Depends(_wallets)]
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import Request

C = TypeVar("C")


class ComponentsNotReady(RuntimeError):
    """A route ran before the composition root yielded its components (or with another type)."""


def provider(kind: type[C]) -> Callable[[Request], Awaitable[C]]:
    """A dependency returning the process's components, which must be a `kind`."""

    async def components(request: Request) -> C:
        found = getattr(request.app.state, "components", None)
        if not isinstance(found, kind):
            raise ComponentsNotReady(f"{kind.__qualname__} are not composed")
        return found

    components.__name__ = f"{kind.__name__.lower()}_components"
    return components
