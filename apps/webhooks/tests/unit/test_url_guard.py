"""The SSRF guard's decisions, with a resolver that answers from a table (no DNS)."""

from __future__ import annotations

import ipaddress

import pytest

from payflow_webhooks.domain.errors import HostUnresolvable, UrlNotAllowed, UrlRejected
from payflow_webhooks.domain.url_rules import IPAddress
from payflow_webhooks.url_guard import UrlGuard


class TableResolver:
    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        self.asked.append(host)
        if host not in self.table:
            raise OSError("Name or service not known")
        return [ipaddress.ip_address(a) for a in self.table[host]]


DNS = {
    "hooks.example.com": ["93.184.216.34"],
    "rebind.example.com": ["93.184.216.35", "10.0.0.7"],
    "inside.example.com": ["192.168.0.10"],
}


def guarded() -> UrlGuard:
    return UrlGuard(allow_private=False, resolver=TableResolver(DNS))


async def test_a_public_url_is_accepted_and_delivered_to_its_vetted_address() -> None:
    guard = guarded()
    await guard.vet_new_url("https://hooks.example.com/payflow")
    target = await guard.delivery_target("https://hooks.example.com/payflow")
    assert str(target.pinned_address) == "93.184.216.34"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/",
        "http://localhost/",
        "http://169.254.169.254/latest/meta-data/",
        "https://inside.example.com/",
        "https://rebind.example.com/",
    ],
)
async def test_urls_reaching_non_public_addresses_are_refused_under_the_guard(url: str) -> None:
    guard = guarded()
    with pytest.raises(UrlNotAllowed):
        await guard.vet_new_url(url)
    with pytest.raises(UrlNotAllowed):
        await guard.delivery_target(url)


async def test_a_refusal_names_the_host_but_never_the_address_it_resolved_to() -> None:
    guard = UrlGuard(
        allow_private=False,
        resolver=TableResolver({"sneaky.example.com": ["93.184.216.36", "10.20.30.40"]}),
    )
    for check in (guard.vet_new_url, guard.delivery_target):
        with pytest.raises(UrlNotAllowed) as refused:
            await check("https://sneaky.example.com/hook")
        assert "sneaky.example.com" in str(refused.value)
        assert "10.20.30.40" not in str(refused.value)


async def test_a_name_that_does_not_resolve_yet_is_saved_but_not_delivered() -> None:
    guard = guarded()
    await guard.vet_new_url("https://later.example.com/")
    with pytest.raises(HostUnresolvable):
        await guard.delivery_target("https://later.example.com/")


async def test_without_the_guard_private_urls_pass_and_dns_is_left_to_the_client() -> None:
    resolver = TableResolver(DNS)
    guard = UrlGuard(allow_private=True, resolver=resolver)
    await guard.vet_new_url("http://127.0.0.1:9000/")
    target = await guard.delivery_target("http://localhost:9000/")
    assert target.pinned_address is None and resolver.asked == []


async def test_bad_syntax_is_rejected_whatever_the_guard() -> None:
    for allow in (True, False):
        with pytest.raises(UrlRejected):
            await UrlGuard(allow_private=allow, resolver=TableResolver(DNS)).vet_new_url(
                "ftp://hooks.example.com/"
            )
