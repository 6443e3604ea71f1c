"""The one mapping from the ledger's exceptions to problem documents.

No ledger exception reaches a route: the routes only read, and their one refusal (a bad
cursor) is answered by `payflow_service.paging.Cursor`. A broken invariant of the books is
raised while a command is handled, where the stream consumer retries and dead-letters it.
"""

from __future__ import annotations

from payflow_ledger.domain.errors import LedgerInvariantError
from payflow_service.problems import Problem

PROBLEMS: dict[type[Exception], Problem] = {}

INTERNAL: frozenset[type[Exception]] = frozenset({LedgerInvariantError})
