"""Webhook URL rules: http(s) with a host, and which addresses the SSRF guard refuses."""

from __future__ import annotations

import ipaddress

import pytest

from payflow_webhooks.domain.url_rules import (
    UrlRejected,
    is_public_address,
    names_a_private_host,
    parse_webhook_url,
)


def test_an_https_url_is_parsed_with_its_default_port() -> None:
    url = parse_webhook_url("https://Hooks.Example.com/payflow?x=1")
    assert (url.scheme, url.host, url.port) == ("https", "hooks.example.com", 443)
    assert parse_webhook_url("http://example.com:8080/").port == 8080


@pytest.mark.parametrize(
    "bad",
    [
        "ftp://example.com/",
        "example.com/hook",
        "http:///nohost",
        "https://user:pw@example.com/",
        "http://example.com:99999/",
        "http://exa mple.com/",
        "https://example.com/" + "a" * 2100,
    ],
)
def test_urls_that_cannot_be_webhooks_are_rejected(bad: str) -> None:
    with pytest.raises(UrlRejected):
        parse_webhook_url(bad)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fd00:ec2::254",
        "fe80::1",
        "::ffff:127.0.0.1",
        "2002:7f00:1::",
    ],
)
def test_private_loopback_link_local_and_metadata_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b::808:808",  # NAT64 of a public address: the translator is inside
        "64:ff9b:1::a00:1",  # local-use NAT64
        "::ffff:0:7f00:1",  # SIIT, IPv4-translated
        "::ffff:0:808:808",
        "::ffff:8.8.8.8",  # IPv4-mapped
        "::127.0.0.1",  # IPv4-compatible
        "::8.8.8.8",
        "fec0::1",  # site-local
        "feff::1",
    ],
)
def test_ipv6_forms_of_ipv4_addresses_and_site_local_ones_are_not_public(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111"])
def test_globally_routable_addresses_are_public(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    ("url", "private"),
    [
        ("http://localhost:8000/", True),
        ("http://api.localhost/", True),
        ("http://metadata.google.internal/", True),
        ("http://[::1]:9000/", True),
        ("http://10.0.0.5/", True),
        ("https://hooks.example.com/", False),
        ("https://8.8.8.8/", False),
    ],
)
def test_a_url_naming_a_local_host_is_recognised_without_dns(url: str, private: bool) -> None:
    assert names_a_private_host(parse_webhook_url(url)) is private
