"""The hosted pay page of a payment link: server-rendered HTML, no inline script or style (the
page's Content-Security-Policy forbids both), everything dynamic in `static/pay.js`.

What the script needs travels in `data-` attributes of the page's `<main>`, HTML-escaped like
every other value written here."""

from __future__ import annotations

from html import escape
from typing import Any

# ISO 4217 minor-unit exponents of the currencies PayFlow supports by default; others: 2.
MINOR_DIGITS = {"JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3}

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)

NOT_PAYABLE = {
    "inactive": "This payment link was deactivated by the merchant.",
    "expired": "This payment link has expired.",
    "paid": "This payment link has already been paid.",
}


def format_money(amount: int, currency: str) -> str:
    """`1250 USD` -> `12.50 USD`: minor units shown in major units, exactly (no float)."""
    digits = MINOR_DIGITS.get(currency, 2)
    sign = "-" if amount < 0 else ""
    whole, part = divmod(abs(amount), 10**digits)
    fraction = f".{part:0{digits}d}" if digits else ""
    return f"{sign}{whole:,}{fraction} {currency}"


def asked_amount(link: dict[str, Any]) -> str:
    currency = link["currency"]
    if link.get("amount") is not None:
        return format_money(int(link["amount"]), currency)
    low, high = link.get("min_amount") or 1, link.get("max_amount")
    if high is None:
        return f"from {format_money(int(low), currency)}"
    return f"{format_money(int(low), currency)} to {format_money(int(high), currency)}"


def render_pay_page(link: dict[str, Any], url: str) -> str:
    e = escape
    status = str(link["status"])
    currency = str(link["currency"])
    digits = MINOR_DIGITS.get(currency, 2)
    data = {
        "link-id": link["id"],
        "status": status,
        "currency": currency,
        "digits": str(digits),
        "amount": "" if link.get("amount") is None else str(link["amount"]),
        "min-amount": str(link.get("min_amount") or ""),
        "max-amount": str(link.get("max_amount") or ""),
    }
    attributes = " ".join(f'data-{name}="{e(value)}"' for name, value in data.items())
    description = (
        f'<p class="description" id="description">{e(link["description"])}</p>'
        if link.get("description")
        else ""
    )
    if status in NOT_PAYABLE:
        action = f'<p class="notice" id="not-payable" role="alert">{e(NOT_PAYABLE[status])}</p>'
    else:
        open_amount = ""
        if link.get("amount") is None:
            step = "1" if digits == 0 else f"0.{'0' * (digits - 1)}1"
            open_amount = (
                '<label for="amount">Amount to pay (' + e(currency) + ")</label>"
                f'<input id="amount" name="amount" type="number" inputmode="decimal" '
                f'step="{step}" min="0" required>'
            )
        action = f"""<form id="sign-in" class="card" novalidate>
        <h2>Sign in to pay</h2>
        <label for="email">Email</label>
        <input id="email" name="email" type="email" autocomplete="username" required>
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required>
        <button type="submit" id="sign-in-button">Sign in</button>
      </form>
      <form id="pay-form" class="card" hidden novalidate>
        <h2>Confirm your payment</h2>
        <p id="payer"></p>
        <label for="wallet">Pay from</label>
        <select id="wallet" name="wallet" required></select>
        {open_amount}
        <button type="submit" id="confirm">Pay</button>
      </form>"""
    return f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="referrer" content="no-referrer">
    <title>Pay {e(link["merchant_name"])}</title>
    <link rel="icon" href="/pay/assets/icon.svg" type="image/svg+xml">
    <link rel="stylesheet" href="/pay/assets/pay.css">
    <script src="/pay/assets/pay.js" defer></script>
  </head>
  <body>
    <main id="pay" {attributes}>
      <header class="card">
        <p class="merchant-label">Payment to</p>
        <h1 id="merchant">{e(link["merchant_name"])}</h1>
        <p class="amount" id="amount-asked">{e(asked_amount(link))}</p>
        {description}
      </header>
      {action}
      <p id="status" class="status" role="status" aria-live="polite"></p>
      <p id="error" class="error" role="alert"></p>
      <figure class="card qr">
        <img id="qr" src="/pay/{e(link["id"])}/qr.svg" width="200" height="200"
             alt="QR code of this payment link, to open it on another device">
        <figcaption><a href="{e(url)}">{e(url)}</a></figcaption>
      </figure>
    </main>
  </body>
</html>
"""
