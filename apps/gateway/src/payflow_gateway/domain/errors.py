"""The gateway's exception tree: every exception the gateway defines derives from `GatewayError`.

`problems.py` says how each one is answered (a problem document, the 401 challenge of an
authentication failure) or lists it among those handled inside the service.
"""

from __future__ import annotations


class GatewayError(Exception):
    """The root of every exception the gateway defines."""


class ServiceUnavailable(GatewayError):
    """A service behind the gateway (or Redis) cannot answer: 503 with `Retry-After`, retry."""

    def __init__(self, service: str) -> None:
        super().__init__(f"The {service} service is not reachable; retry later.")
        self.service = service
        self.detail = str(self)


# ---------------------------------------------------------------- authentication


class AuthFailure(GatewayError):
    """A request refused for who sent it; `reason` labels `payflow_auth_failures_total`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotAuthenticated(AuthFailure):
    """No bearer credential was sent."""

    def __init__(self) -> None:
        super().__init__("missing_credentials")


class InvalidToken(AuthFailure):
    """The credential is not a valid access token, refresh token or API key (`reason` says why)."""


class TokenReused(AuthFailure):
    """A spent refresh token came back: its family is revoked."""

    def __init__(self) -> None:
        super().__init__("token_reused")


class InvalidCredentials(AuthFailure):
    """The email or password of a login is not correct."""

    def __init__(self) -> None:
        super().__init__("invalid_credentials")


class Forbidden(AuthFailure):
    """An administrator route called by someone else."""

    def __init__(self) -> None:
        super().__init__("forbidden")


class TokenRejected(GatewayError):
    """The token is not a valid token of the expected kind; `reason` labels the metric."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ClaimsRejected(TokenRejected):
    """A signed token whose claims are not those of the expected kind of token."""


# ---------------------------------------------------------------- accounts and keys


class EmailTaken(GatewayError):
    """Another user already registered this email, in any letter case."""


class BootstrapAdminRefused(GatewayError):
    """The bootstrap admin's email belongs to an account that is not an administrator."""


class ApiKeyCollision(GatewayError):
    """A key with this id or digest is already stored (with 256 random bits: a bug, not luck)."""


class ApiKeyNotFound(GatewayError):
    """No active API key of the caller has this id."""


# ---------------------------------------------------------------- idempotency


class KeyProblem(GatewayError):
    """An `Idempotency-Key` header that is missing or not valid (`code` says which)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class IdempotencyKeyReused(GatewayError):
    """The Idempotency-Key was already used with another request body."""


# ---------------------------------------------------------------- resources


class WalletNotFound(GatewayError):
    """No such wallet, or not the caller's (answered alike)."""


class WalletClosed(GatewayError):
    """The wallet is closed (the in-memory wallet directory's answer)."""


class TransferNotFound(GatewayError):
    """No such transfer, or not one of the caller's (answered alike)."""


class PaymentLinkNotFound(GatewayError):
    """No such payment link, or not the caller's on the merchant's routes."""


class FaultRuleNotFound(GatewayError):
    """No such sandbox fault rule of the caller."""


class SandboxOnly(GatewayError):
    """A sandbox route called in production: it does not exist there."""


# ---------------------------------------------------------------- pre-checks of payments


class SameWallet(GatewayError):
    """A transfer from a wallet to itself."""


class LinkPaidFromItsWallet(GatewayError):
    """A payment link paid from the wallet it pays into."""


class TransferCurrencyMismatch(GatewayError):
    """A wallet of a transfer does not hold the transfer's currency."""


class LinkCurrencyMismatch(GatewayError):
    """A payment link in another currency than its wallet's."""


class PayerCurrencyMismatch(GatewayError):
    """A payment of a link from a wallet in another currency than the link's."""


class RefundByNonRecipient(GatewayError):
    """Only the recipient of a transfer can refund it."""


class RefundOfIncompleteTransfer(GatewayError):
    """Only a completed transfer (not a top-up or refund) can be refunded."""
