"""Which webhook URLs are acceptable: http(s) with a host, and, under the SSRF guard, public only.

The syntax is checked when an endpoint is saved; addresses are checked again at delivery time,
because a name may resolve elsewhere by then (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from payflow_webhooks.domain.errors import UrlRejected

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048

# Names that mean "this machine" or a cloud metadata service whatever DNS answers.
_LOCAL_NAMES = frozenset({"localhost", "metadata.google.internal", "metadata"})
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal")


# IPv6 ranges that Python's `is_global` calls public although each one carries or reaches an
# IPv4 host through a translator, or is deprecated and may still be routed inside a site.
_REFUSED_IPV6 = tuple(
    ipaddress.IPv6Network(network)
    for network in (
        "64:ff9b::/96",  # NAT64, well-known prefix (RFC 6052): 64:ff9b::7f00:1 is 127.0.0.1
        "64:ff9b:1::/48",  # NAT64, local-use prefix (RFC 8215)
        "::ffff:0:0/96",  # IPv4-mapped (RFC 4291): no public DNS answer has one
        "::ffff:0:0:0/96",  # IPv4-translated, SIIT (RFC 7915)
        "::/96",  # IPv4-compatible (RFC 4291, deprecated): ::127.0.0.1
        "fec0::/10",  # site-local (RFC 3879, deprecated)
    )
)


@dataclass(frozen=True)
class WebhookUrl:
    url: str
    scheme: str
    host: str
    port: int

    @property
    def address(self) -> IPAddress | None:
        """The host as an IP address when it is a literal, else None."""
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None


def parse_webhook_url(url: str) -> WebhookUrl:
    if len(url) > MAX_URL_LENGTH:
        raise UrlRejected(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(c.isspace() for c in url) or any(ord(c) < 0x20 for c in url):
        raise UrlRejected("the URL contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRejected(f"the URL is not valid: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UrlRejected("the URL must use http or https")
    if parts.username is not None or parts.password is not None:
        raise UrlRejected("the URL must not carry credentials")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise UrlRejected("the URL must name a host")
    return WebhookUrl(url=url, scheme=scheme, host=host, port=port or _default_port(scheme))


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def is_public_address(address: IPAddress) -> bool:
    """True for globally routable unicast addresses only: private, loopback, link-local (which
    holds the 169.254.169.254 metadata service), shared, reserved and multicast are refused, and
    so is every IPv6 form of an IPv4 address (NAT64, SIIT, mapped, compatible) and site-local."""
    if isinstance(address, ipaddress.IPv6Address):
        if any(address in network for network in _REFUSED_IPV6):
            return False
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return is_public_address(embedded)
        if address.teredo is not None:
            return False
    return address.is_global and not address.is_multicast


def names_a_private_host(url: WebhookUrl) -> bool:
    """Refusable from the URL alone: a non-public IP literal or a name that means a local host."""
    literal = url.address
    if literal is not None:
        return not is_public_address(literal)
    return url.host in _LOCAL_NAMES or url.host.endswith(_LOCAL_SUFFIXES)


def refused_addresses(addresses: list[IPAddress]) -> list[IPAddress]:
    return [a for a in addresses if not is_public_address(a)]
