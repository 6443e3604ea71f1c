"""The wallet service's exception tree: every exception it defines derives from `WalletError`.

`payflow_wallet.problems` maps the ones a route may raise to problem documents and lists the
others (handled inside the service) as internal.
"""

from __future__ import annotations


class WalletError(Exception):
    """The root of the wallet service's exceptions."""


class WalletNotFound(WalletError):
    """No wallet has this id."""


class WalletClosed(WalletError):
    """A closed wallet cannot be frozen or unfrozen."""


class WalletBusy(WalletError):
    """The wallet's status kept changing under a status change; the caller may retry."""


class DuplicateWallet(WalletError):
    """A wallet with this id exists already."""


class WalletContention(WalletError):
    """An operation could not settle within its attempts (left for redelivery)."""
