"""The hosted pay page in a real headless browser (Debian's chromium, driven by Selenium through
chromedriver) against the whole running system: open the link, sign in, pay, watch it become
paid, and the merchant's balance moved; reloading cannot pay twice.

Chromium and its driver are installed here when missing (apt-get, as root); the test fails, with
the reason, when they cannot be: it is never skipped."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import Customer, wait_terminal
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PASSWORD = "a-long-enough-password"  # e2e_support.register's
PHONE = (390, 844)  # CSS pixels of a common phone
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def ensure_chromium() -> None:
    """Debian's `chromium` and `chromium-driver`, installed with apt-get when missing."""
    if Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists():
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.fail(
            "the pay-page test needs Debian's chromium and chromium-driver "
            f"({CHROMIUM}, {CHROMEDRIVER}); install them with "
            "`apt-get install -y chromium chromium-driver` (as root): apt-get cannot run here"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "chromium", "chromium-driver"],
    ):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            pytest.fail(
                f"`{' '.join(command)}` failed ({done.returncode}); the pay-page test needs "
                f"chromium and chromium-driver:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
            )
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail(f"apt-get installed chromium but {CHROMIUM} or {CHROMEDRIVER} is missing")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    ensure_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_argument(f"--window-size={PHONE[0]},{PHONE[1]}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


async def a_link(merchant: Customer, **fields: Any) -> dict[str, Any]:
    response = await merchant.client.post(
        "/v1/payment-links",
        json={"wallet_id": merchant.wallet_id, "currency": "USD", **fields},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def usd_fee(amount: int) -> int:
    return (amount * 290 * 2 + 10_000) // 20_000 + 30


def wait_for(browser: WebDriver, seconds: float = 30) -> WebDriverWait[WebDriver]:
    return WebDriverWait(browser, seconds, poll_frequency=0.1)


def sign_in(browser: WebDriver, payer: Customer) -> None:
    wait_for(browser).until(ready.visibility_of_element_located((By.ID, "email")))
    browser.find_element(By.ID, "email").send_keys(payer.email)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "sign-in-button").click()
    # Signed in once the sign-in form is gone (the pay form may be shown, or hidden again at once
    # when the payer's payment of this link is already complete).
    wait_for(browser).until(ready.invisibility_of_element_located((By.ID, "sign-in")))


def status_text(browser: WebDriver) -> str:
    return str(browser.find_element(By.ID, "status").text)


def wait_status(browser: WebDriver, starts_with: str) -> str:
    try:
        wait_for(browser, 60).until(lambda b: status_text(b).startswith(starts_with))
    except TimeoutException:
        error = browser.find_element(By.ID, "error").text
        logs = [entry["message"] for entry in browser.get_log("browser")]
        raise AssertionError(
            f"status {status_text(browser)!r} (error {error!r}), not {starts_with!r}; "
            f"browser log: {logs}"
        ) from None
    return status_text(browser)


def csp_violations(browser: WebDriver) -> list[str]:
    return [
        entry["message"]
        for entry in browser.get_log("browser")
        if "Content Security Policy" in entry["message"] or "Refused to" in entry["message"]
    ]


async def test_a_payer_opens_the_link_signs_in_pays_and_watches_it_become_paid(
    customers: Any, browser: WebDriver
) -> None:
    merchant, payer = await customers("merchant"), await customers("payer")
    await payer.top_up(5_000)
    link = await a_link(merchant, amount=1_250, description="A <b>blue</b> mug")

    browser.get(link["url"])
    assert browser.title == "Pay merchant"
    assert browser.find_element(By.ID, "merchant").text == "merchant"
    assert browser.find_element(By.ID, "amount-asked").text == "12.50 USD"
    # Escaped, not markup:
    assert browser.find_element(By.ID, "description").text == "A <b>blue</b> mug"
    qr = browser.find_element(By.ID, "qr")
    wait_for(browser).until(lambda b: b.execute_script("return arguments[0].naturalWidth", qr) > 0)
    assert "QR code" in qr.get_attribute("alt")
    # Phone width: nothing scrolls sideways; every field has its label.
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth"
    )
    unlabelled = browser.execute_script(
        "return [...document.querySelectorAll('input, select')]"
        ".filter(e => e.labels.length === 0).map(e => e.id)"
    )
    assert unlabelled == []

    sign_in(browser, payer)
    wallet = Select(browser.find_element(By.ID, "wallet"))
    wait_for(browser).until(lambda _: len(wallet.options) > 0)
    assert [o.get_attribute("value") for o in wallet.options] == [payer.wallet_id]
    wallet.select_by_value(payer.wallet_id)
    confirm = browser.find_element(By.ID, "confirm")
    wait_for(browser).until(lambda _: confirm.text == "Pay $12.50")
    confirm.click()
    assert wait_status(browser, "Paid") == "Paid: $12.50 to the merchant. Thank you!"

    assert await payer.balance() == 5_000 - 1_250
    assert await merchant.balance() == 1_250 - usd_fee(1_250)
    # The token stayed in the page's memory: no cookie, nothing stored.
    assert browser.get_cookies() == []
    assert browser.execute_script("return localStorage.length + sessionStorage.length") == 0

    # A reload signs the payer out; signing in again shows the payment, and pays nothing more.
    browser.refresh()
    sign_in(browser, payer)
    assert wait_status(browser, "Paid").startswith("Paid")
    assert not browser.find_element(By.ID, "pay-form").is_displayed()
    payments = (await merchant.client.get(f"/v1/payment-links/{link['id']}/payments")).json()
    assert len(payments["data"]) == 1
    assert await payer.balance() == 5_000 - 1_250
    assert csp_violations(browser) == []


async def test_a_failed_payment_shows_its_reason_and_a_retry_after_funding_pays_once(
    customers: Any, browser: WebDriver
) -> None:
    merchant, payer = await customers("merchant"), await customers("payer")
    await payer.top_up(100)
    link = await a_link(merchant, amount=700)
    browser.get(link["url"])
    sign_in(browser, payer)
    wait_for(browser).until(lambda b: len(Select(b.find_element(By.ID, "wallet")).options) > 0)
    browser.find_element(By.ID, "confirm").click()
    failed = wait_status(browser, "Payment failed")
    assert failed == "Payment failed: the wallet's balance is below the amount"

    # After a reload the page derives the same next key from the failed attempt.
    browser.refresh()
    sign_in(browser, payer)
    wait_status(browser, "Payment failed")
    await payer.top_up(1_000)
    retry = browser.find_element(By.ID, "confirm")
    wait_for(browser).until(lambda _: retry.text == "Try again" and retry.is_enabled())
    retry.click()
    wait_status(browser, "Paid")
    assert await payer.balance() == 1_100 - 700
    attempts = (
        await payer.client.get("/v1/transfers", params={"payment_link_id": link["id"]})
    ).json()["data"]
    assert sorted(t["status"] for t in attempts) == ["completed", "failed"]


async def test_an_open_amount_is_chosen_on_the_page(customers: Any, browser: WebDriver) -> None:
    merchant, payer = await customers("merchant"), await customers("payer")
    await payer.top_up(5_000)
    link = await a_link(merchant, min_amount=100, max_amount=5_000, description="Tip")
    browser.get(link["url"])
    assert browser.find_element(By.ID, "amount-asked").text == "1.00 USD to 50.00 USD"
    sign_in(browser, payer)
    wait_for(browser).until(lambda b: len(Select(b.find_element(By.ID, "wallet")).options) > 0)
    browser.find_element(By.ID, "amount").send_keys("7.25")
    browser.find_element(By.ID, "confirm").click()
    assert wait_status(browser, "Paid") == "Paid: $7.25 to the merchant. Thank you!"
    [paid] = (
        await payer.client.get("/v1/transfers", params={"payment_link_id": link["id"]})
    ).json()["data"]
    assert (await wait_terminal(payer, paid["id"]))["amount"] == 725


async def test_a_link_that_cannot_be_paid_says_why_and_offers_no_form(
    customers: Any, browser: WebDriver
) -> None:
    merchant = await customers("merchant")
    link = await a_link(merchant, amount=500)
    await merchant.client.post(f"/v1/payment-links/{link['id']}/deactivate")
    browser.get(link["url"])
    assert (
        browser.find_element(By.ID, "not-payable").text
        == "This payment link was deactivated by the merchant."
    )
    assert browser.find_elements(By.ID, "sign-in") == []


async def test_the_page_is_served_with_a_strict_policy_and_no_inline_code(
    customers: Any, gateway_url: str
) -> None:
    merchant = await customers("merchant")
    link = await a_link(merchant, amount=500)
    async with httpx.AsyncClient(timeout=30) as anonymous:
        page = await anonymous.get(link["url"])
        script = await anonymous.get(f"{gateway_url}/pay/assets/pay.js")
        missing = await anonymous.get(f"{gateway_url}/pay/pl_0123456789abcdef")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert (
        "<script>" not in page.text
        and " style=" not in page.text
        and " on" + "click=" not in page.text
    )
    assert '<script src="/pay/assets/pay.js" defer></script>' in page.text
    assert script.status_code == 200 and script.headers["content-type"].startswith(
        "text/javascript"
    )
    assert "document.cookie" not in script.text and "localStorage" not in script.text
    assert (missing.status_code, missing.json()["code"]) == (404, "payment_link_not_found")
