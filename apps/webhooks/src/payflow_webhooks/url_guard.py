"""The SSRF guard: checks a webhook URL when it is saved and resolves it again at delivery time.

Under the guard (`PAYFLOW_WEBHOOK_ALLOW_PRIVATE_URLS=false`, the production default) a URL whose
host is, or resolves to, any non-public address is refused, and a delivery connects to the very
address that was checked, so a second DNS answer cannot point it elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from payflow_webhooks.domain.errors import HostUnresolvable, UrlNotAllowed
from payflow_webhooks.domain.url_rules import (
    IPAddress,
    WebhookUrl,
    names_a_private_host,
    parse_webhook_url,
    refused_addresses,
)
from payflow_webhooks.ports import HostResolver

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryTarget:
    url: WebhookUrl
    pinned_address: IPAddress | None
    """The vetted address to connect to; None when private URLs are allowed (no pinning)."""


class UrlGuard:
    def __init__(
        self, *, allow_private: bool, resolver: HostResolver, resolve_timeout_s: float = 3.0
    ) -> None:
        self.allow_private = allow_private
        self._resolver = resolver
        self._timeout = resolve_timeout_s

    async def vet_new_url(self, url: str) -> WebhookUrl:
        """Check a URL being saved. Raises `UrlRejected` (syntax) or `UrlNotAllowed`."""
        parsed = parse_webhook_url(url)
        if self.allow_private:
            return parsed
        if names_a_private_host(parsed):
            raise UrlNotAllowed(f"{parsed.host} is not a public address")
        try:
            addresses = await self._resolve(parsed)
        except HostUnresolvable:
            # A name that does not resolve yet is accepted; every delivery checks it again.
            logger.info("webhook host %s does not resolve yet", parsed.host)
            return parsed
        self._refuse_non_public(parsed, addresses)
        return parsed

    async def delivery_target(self, url: str) -> DeliveryTarget:
        """Where to connect for one attempt. Raises `UrlNotAllowed` or `HostUnresolvable`."""
        parsed = parse_webhook_url(url)
        if self.allow_private:
            return DeliveryTarget(parsed, None)
        if names_a_private_host(parsed):
            raise UrlNotAllowed(f"{parsed.host} is not a public address")
        addresses = await self._resolve(parsed)
        self._refuse_non_public(parsed, addresses)
        return DeliveryTarget(parsed, addresses[0])

    @staticmethod
    def _refuse_non_public(url: WebhookUrl, addresses: list[IPAddress]) -> None:
        refused = refused_addresses(addresses)
        if refused:
            # The address goes to the log only: told to the endpoint's owner, it would map the
            # inside of the network one DNS record at a time.
            logger.warning(
                "webhook host %s resolves to a non-public address %s", url.host, refused[0]
            )
            raise UrlNotAllowed(f"{url.host} resolves to a non-public address")

    async def _resolve(self, url: WebhookUrl) -> list[IPAddress]:
        literal = url.address
        if literal is not None:
            return [literal]
        try:
            async with asyncio.timeout(self._timeout):
                addresses = await self._resolver.resolve(url.host, url.port)
        except (OSError, TimeoutError, UnicodeError) as exc:
            raise HostUnresolvable(f"{url.host} did not resolve: {exc}") from exc
        if not addresses:
            raise HostUnresolvable(f"{url.host} did not resolve")
        return addresses
