"""The hosted pay page as rendered HTML: exact money, escaped values, no inline code."""

from __future__ import annotations

import re

import pytest

from payflow_gateway.links.pay_page import (
    CONTENT_SECURITY_POLICY,
    asked_amount,
    format_money,
    render_pay_page,
)


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (1_250, "USD", "12.50 USD"),
        (5, "EUR", "0.05 EUR"),
        (123_456_789, "GBP", "1,234,567.89 GBP"),
        (1_250, "JPY", "1,250 JPY"),
        (-75, "USD", "-0.75 USD"),
    ],
)
def test_money_is_shown_in_major_units_exactly(amount: int, currency: str, shown: str) -> None:
    assert format_money(amount, currency) == shown


def link(**changes: object) -> dict[str, object]:
    return {
        "id": "pl_0123abcd",
        "status": "active",
        "currency": "USD",
        "amount": 1_250,
        "min_amount": None,
        "max_amount": None,
        "description": 'A "blue" <mug> & saucer',
        "merchant_name": "<script>alert(1)</script>",
        **changes,
    }


def test_every_value_is_escaped_and_the_page_has_no_inline_code() -> None:
    html = render_pay_page(link(), "http://127.0.0.1:8000/pay/pl_0123abcd")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "A &quot;blue&quot; &lt;mug&gt; &amp; saucer" in html
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/pay/assets/pay.js" defer>']
    assert " style=" not in html and not re.search(r"\son[a-z]+=", html)
    assert 'data-link-id="pl_0123abcd"' in html and 'data-amount="1250"' in html


def test_every_field_has_a_label() -> None:
    html = render_pay_page(link(amount=None, min_amount=100, max_amount=900), "u")
    fields = set(re.findall(r'<(?:input|select)[^>]*\bid="([^"]+)"', html))
    labelled = set(re.findall(r'<label for="([^"]+)"', html))
    assert fields == {"email", "password", "wallet", "amount"} and fields <= labelled


@pytest.mark.parametrize("status", ["inactive", "expired", "paid"])
def test_a_link_that_cannot_be_paid_has_no_form(status: str) -> None:
    html = render_pay_page(link(status=status), "u")
    assert 'id="not-payable"' in html and "<form" not in html


def test_an_open_amount_shows_its_bounds() -> None:
    assert asked_amount(link(amount=None, min_amount=100, max_amount=5_000)) == (
        "1.00 USD to 50.00 USD"
    )


def test_the_policy_allows_no_inline_or_foreign_code() -> None:
    directives = dict(d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY
