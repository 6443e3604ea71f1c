// The hosted pay page of a payment link (served by the PayFlow gateway as /pay/assets/pay.js).
// No framework and no build step. The bearer token lives in this closure only: never in a
// cookie, never in storage, so no other page can make this browser pay (CSRF) and a reload
// signs the payer out. Reloading cannot pay twice: the Idempotency-Key is derived from the link,
// the payer and the payer's last failed attempt, all of which the server knows.
"use strict";

(() => {
  const page = document.getElementById("pay");
  const signInForm = document.getElementById("sign-in");
  if (!page || !signInForm) {
    return; // a link that cannot be paid: the page already says why
  }
  const linkId = page.dataset.linkId;
  const currency = page.dataset.currency;
  const digits = Number(page.dataset.digits);
  const fixedAmount = page.dataset.amount ? Number(page.dataset.amount) : null;
  const payForm = document.getElementById("pay-form");
  const walletSelect = document.getElementById("wallet");
  const amountInput = document.getElementById("amount");
  const confirmButton = document.getElementById("confirm");
  const statusLine = document.getElementById("status");
  const errorLine = document.getElementById("error");
  const payerLine = document.getElementById("payer");

  let token = null;
  let payerId = null;
  let idempotencyKey = null;

  const money = (minor) =>
    new Intl.NumberFormat(undefined, {
      style: "currency",
      currency,
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    }).format(minor / 10 ** digits);

  const say = (text) => {
    statusLine.textContent = text;
  };
  const complain = (text) => {
    errorLine.textContent = text;
  };

  async function api(method, path, body, headers) {
    const response = await fetch(path, {
      method,
      credentials: "omit",
      cache: "no-store",
      headers: {
        Accept: "application/json",
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
        ...(headers || {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const data = text ? JSON.parse(text) : null;
    if (!response.ok) {
      const problem = new Error((data && data.detail) || `HTTP ${response.status}`);
      problem.code = data && data.code;
      throw problem;
    }
    return data;
  }

  function subjectOf(jwt) {
    const payload = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload.padEnd(payload.length + ((4 - (payload.length % 4)) % 4), "="))).sub;
  }

  function showOutcome(transfer) {
    if (transfer.status === "completed") {
      say(`Paid: ${money(transfer.amount)} to the merchant. Thank you!`);
      page.dataset.outcome = "paid";
      payForm.hidden = true;
    } else if (transfer.status === "failed") {
      const reason = transfer.failure_message || transfer.failure_code || "unknown reason";
      say(`Payment failed: ${reason}`);
      page.dataset.outcome = "failed";
      // A new attempt gets a new key, derived from the failed one: a reload derives it again.
      idempotencyKey = `paylink-${linkId}-${payerId}-after-${transfer.id}`;
      confirmButton.disabled = false;
      confirmButton.textContent = "Try again";
    } else {
      say(`Payment ${transfer.status}…`);
      page.dataset.outcome = transfer.status;
    }
  }

  // The transfer's server-sent events, read with fetch: EventSource cannot send the token.
  async function watch(transferId) {
    confirmButton.disabled = true;
    say("Payment pending…");
    for (let attempt = 0; attempt < 20; attempt += 1) {
      try {
        const response = await fetch(`/v1/transfers/${encodeURIComponent(transferId)}/stream`, {
          credentials: "omit",
          cache: "no-store",
          headers: { Accept: "text/event-stream", Authorization: `Bearer ${token}` },
        });
        if (!response.ok) {
          throw new Error(`HTTP ${response.status}`);
        }
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        let last = null;
        for (;;) {
          const { value, done } = await reader.read();
          if (done) {
            break;
          }
          buffer += value.replace(/\r\n?/g, "\n"); // the stream's lines end with CRLF
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = block
              .split("\n")
              .filter((line) => line.startsWith("data:"))
              .map((line) => line.slice(5).trim())
              .join("\n");
            if (data) {
              last = JSON.parse(data);
              showOutcome(last);
            }
          }
        }
        if (last && (last.status === "completed" || last.status === "failed")) {
          return;
        }
      } catch (error) {
        complain(`Lost the live status (${error.message}); reconnecting…`);
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    complain("The live status did not come; reload the page to see where the payment stands.");
  }

  let myWallets = new Set();

  async function loadWallets() {
    const wallets = await api("GET", "/v1/wallets?limit=100");
    myWallets = new Set(wallets.data.map((w) => w.id));
    const usable = wallets.data.filter((w) => w.currency === currency && w.status === "active");
    walletSelect.replaceChildren(
      ...usable.map((wallet) => {
        const option = document.createElement("option");
        option.value = wallet.id;
        option.textContent = `${wallet.id} (${money(wallet.balance)})`;
        return option;
      }),
    );
    if (usable.length === 0) {
      complain(`You have no active wallet in ${currency} to pay from.`);
      confirmButton.disabled = true;
    }
  }

  // Where this payer stands with this link: the server's transfers, not this page's memory.
  async function lastAttempt() {
    const mine = await api(
      "GET",
      `/v1/transfers?payment_link_id=${encodeURIComponent(linkId)}&limit=100`,
    );
    return (
      mine.data.find((t) => t.payment_link_id === linkId && myWallets.has(t.source_wallet_id)) ||
      null
    );
  }

  signInForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    complain("");
    try {
      const session = await api("POST", "/v1/auth/login", {
        email: document.getElementById("email").value,
        password: document.getElementById("password").value,
      });
      token = session.access_token;
      payerId = subjectOf(token);
      signInForm.hidden = true;
      payForm.hidden = false;
      payerLine.textContent = "Signed in.";
      idempotencyKey = `paylink-${linkId}-${payerId}`;
      confirmButton.textContent = fixedAmount === null ? "Pay" : `Pay ${money(fixedAmount)}`;
      await loadWallets();
      const last = await lastAttempt();
      if (last) {
        showOutcome(last);
        if (last.status !== "completed" && last.status !== "failed") {
          await watch(last.id);
        }
      }
    } catch (error) {
      token = null;
      complain(error.code === "invalid_credentials" ? "Wrong email or password." : error.message);
    }
  });

  payForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    complain("");
    const body = { source_wallet_id: walletSelect.value };
    if (fixedAmount === null) {
      const minor = Math.round(Number(amountInput.value) * 10 ** digits);
      if (!Number.isFinite(minor) || minor <= 0) {
        complain("Enter the amount to pay.");
        return;
      }
      body.amount = minor;
    }
    confirmButton.disabled = true;
    try {
      const transfer = await api("POST", `/v1/payment-links/${encodeURIComponent(linkId)}/pay`, body, {
        "Idempotency-Key": idempotencyKey,
      });
      showOutcome(transfer);
      if (transfer.status !== "completed" && transfer.status !== "failed") {
        await watch(transfer.id);
      }
    } catch (error) {
      confirmButton.disabled = false;
      complain(error.message);
    }
  });
})();
