"""The ledger's exception tree: every exception the service defines derives from `LedgerError`.

The ledger refuses a step by recording a verdict (`domain.postings.LedgerVerdict`), never by
raising; what is raised here is a broken rule of the books themselves (an unbalanced transaction,
a record with the wrong shape), which no route ever sees (`problems.INTERNAL`).
"""

from __future__ import annotations


class LedgerError(Exception):
    """The root of every exception the ledger defines."""


class LedgerInvariantError(LedgerError, ValueError):
    """A journal transaction, a posting request or a step record that breaks a rule of the
    books (a `ValueError`, as a value that cannot be built)."""
