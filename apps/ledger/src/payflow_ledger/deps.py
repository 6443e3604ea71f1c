"""Typed dependencies of the ledger's routes, over the composed `Components`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from payflow_ledger.bootstrap import Components
from payflow_ledger.ports import AccountStore, Journal
from payflow_service.components import provider

_components = provider(Components)
Comps = Annotated[Components, Depends(_components)]


async def _accounts(c: Comps) -> AccountStore:
    return c.accounts


async def _journal(c: Comps) -> Journal:
    return c.journal


Accounts = Annotated[AccountStore, Depends(_accounts)]
JournalDep = Annotated[Journal, Depends(_journal)]
