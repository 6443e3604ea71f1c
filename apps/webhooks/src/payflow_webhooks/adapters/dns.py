"""The operating system's resolver, for the SSRF guard (`url_guard.UrlGuard`)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from payflow_webhooks.domain.url_rules import IPAddress


class SystemResolver:
    """getaddrinfo, run off the event loop."""

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses: list[IPAddress] = []
        for info in infos:
            # An IPv6 answer may carry a zone ("fe80::1%eth0"); the address is what is vetted.
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
        return addresses
