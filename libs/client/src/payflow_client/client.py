"""`PayFlow`: the synchronous client.

from payflow_client import PayFlow

with PayFlow("http://127.0.0.1:8000", email="ada@example.com", password="...") as client:
    wallet = client.wallets.list().first_page().data[0]
    client.top_ups.create(wallet.id, 5_000, wait=5)
    transfer = client.transfers.create(
        source_wallet_id=wallet.id, destination_wallet_id="wal_...", amount=1_250,
        currency="USD", wait=5,
    )
    for failed in client.transfers.list(status="failed"):
        print(failed.id, failed.failure_code)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx

from payflow_client import _calls
from payflow_client._core import (
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    USER_AGENT,
    Call,
    M,
    RetryPolicy,
    TokenState,
    build_headers,
    decode_body,
    error_of,
    needs_refresh,
    parse,
    parse_retry_after,
    should_retry_status,
    should_retry_transport,
)
from payflow_client.errors import APIConnectionError, AuthenticationError, WaitTimeoutError
from payflow_client.models import (
    ApiKey,
    ApiKeyCreated,
    Delivery,
    Event,
    FaultRule,
    LedgerEntry,
    Page,
    Reconciliation,
    Registered,
    SigningSecret,
    TokenPair,
    Transfer,
    User,
    Wallet,
    WebhookEndpoint,
    WebhookEndpointCreated,
)
from payflow_client.pagination import Pager
from payflow_client.sse import SSEDecoder
from payflow_client.webhooks import Webhooks

STREAM_READ_TIMEOUT_S = 45.0
"""The server pings an idle stream every 15 s; three missed pings mean the stream is gone."""


class PayFlow:
    """A client of the PayFlow API. Authenticate with an API key, with tokens, or with an email
    and password (logged in on first use; the access token is renewed with the refresh token
    when it expires, and by logging in again when the session is gone)."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        api_key: str | None = None,
        access_token: str | None = None,
        refresh_token: str | None = None,
        email: str | None = None,
        password: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        on_tokens: Callable[[str, str], None] | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = TokenState(
            api_key=api_key,
            access_token=access_token,
            refresh_token=refresh_token,
            on_tokens=on_tokens,
        )
        self.retry = retry or RetryPolicy()
        self._email = email
        self._password = password
        self._own_http = http_client is None
        self._http = http_client or httpx.Client(
            base_url=self.base_url, timeout=timeout, headers={"User-Agent": USER_AGENT}
        )
        self._renewal = threading.Lock()

        self.auth = AuthResource(self)
        self.api_keys = ApiKeysResource(self)
        self.wallets = WalletsResource(self)
        self.top_ups = TopUpsResource(self)
        self.transfers = TransfersResource(self)
        self.refunds = RefundsResource(self)
        self.webhook_endpoints = WebhookEndpointsResource(self)
        self.deliveries = DeliveriesResource(self)
        self.events = EventsResource(self)
        self.sandbox = SandboxResource(self)
        self.admin = AdminResource(self)
        self.webhooks = Webhooks()

    # ------------------------------------------------------------ lifecycle
    def close(self) -> None:
        if self._own_http:
            self._http.close()

    def __enter__(self) -> PayFlow:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------ sending
    def request(self, call: Call, model: type[M]) -> M:
        response = self.send(call)
        return parse(model, decode_body(response))

    def request_none(self, call: Call) -> None:
        self.send(call)

    def send(
        self, call: Call, *, stream: bool = False, http_timeout: httpx.Timeout | None = None
    ) -> httpx.Response:
        """Sends a call with retries and token renewal; returns a successful response (unread
        when `stream`, then the caller closes it) or raises the typed error."""
        call = call.with_key()
        policy = self.retry
        retries = 0
        renewed = False
        in_use_until: float | None = None
        while True:
            if call.authenticated and self.tokens.bearer is None and self._password:
                self._log_in_with_password()
            sent_bearer = self.tokens.bearer if call.authenticated else None
            request = self._http.build_request(
                call.method,
                call.path,
                params=call.params,
                json=call.json,
                headers=build_headers(call, self.tokens),
                timeout=http_timeout if http_timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
            try:
                response = self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                if retries < policy.max_retries and should_retry_transport(call, exc):
                    retries += 1
                    time.sleep(policy.delay(retries))
                    continue
                raise APIConnectionError(
                    f"{call.method} {call.path}: no answer from {self.base_url} ({exc!r})",
                    call.idempotency_key,
                ) from exc
            if response.status_code < 400:
                return response
            if stream:
                response.read()
                response.close()
            body = decode_body(response)
            error = error_of(response, body)
            if (
                not renewed
                and call.authenticated
                and needs_refresh(error, self.tokens, sent_bearer)
            ):
                renewed = True
                self._renew(sent_bearer)
                continue
            if should_retry_status(call, response, body):
                wait_hint = parse_retry_after(response.headers.get("retry-after"))
                if error.code == "idempotency_key_in_use":
                    now = time.monotonic()
                    in_use_until = in_use_until or now + policy.key_in_use_patience
                    if now < in_use_until:
                        time.sleep(policy.delay(1, wait_hint))
                        continue
                elif retries < policy.max_retries:
                    retries += 1
                    time.sleep(policy.delay(retries, wait_hint))
                    continue
            raise error

    def _renew(self, failed_bearer: str | None) -> None:
        """New tokens after the access token was refused: refresh (once per token, under a
        lock: a refresh token spent twice revokes the session), else log in again."""
        with self._renewal:
            if self.tokens.access_token != failed_bearer:
                return  # another thread renewed it meanwhile
            refresh_token = self.tokens.refresh_token
            assert refresh_token is not None
            try:
                pair = self.request(_calls.refresh(refresh_token), TokenPair)
            except AuthenticationError:
                self.tokens.clear()
                if not self._password:
                    raise
                self._log_in_with_password()
                return
            self.tokens.set_tokens(pair.access_token, pair.refresh_token)

    def _log_in_with_password(self) -> None:
        assert self._email and self._password
        pair = self.request(_calls.login(self._email, self._password), TokenPair)
        self.tokens.set_tokens(pair.access_token, pair.refresh_token)

    def _page(self, call: Call, model: type[Any]) -> Page[Any]:
        return self.request(call, Page[model])  # type: ignore[valid-type]


class _Resource:
    def __init__(self, client: PayFlow) -> None:
        self._client = client


class AuthResource(_Resource):
    def register(self, email: str, password: str, name: str) -> Registered:
        """Creates an account and its default wallet (does not log in)."""
        return self._client.request(_calls.register(email, password, name), Registered)

    def login(self, email: str, password: str) -> TokenPair:
        """Logs in; the client uses (and renews) the tokens from now on."""
        pair = self._client.request(_calls.login(email, password), TokenPair)
        self._client.tokens.set_tokens(pair.access_token, pair.refresh_token)
        return pair

    def logout(self) -> None:
        refresh_token = self._client.tokens.refresh_token
        if refresh_token:
            self._client.request_none(_calls.logout(refresh_token))
        self._client.tokens.clear()

    def me(self) -> User:
        return self._client.request(_calls.me(), User)


class ApiKeysResource(_Resource):
    def create(self, name: str) -> ApiKeyCreated:
        return self._client.request(_calls.create_api_key(name), ApiKeyCreated)

    def list(self, *, limit: int | None = None, page_size: int = 100) -> Pager[ApiKey]:
        return Pager(
            lambda cursor: self._client._page(_calls.list_api_keys(page_size, cursor), ApiKey),
            limit,
        )

    def revoke(self, key_id: str) -> None:
        self._client.request_none(_calls.revoke_api_key(key_id))


class WalletsResource(_Resource):
    def list(self, *, limit: int | None = None, page_size: int = 100) -> Pager[Wallet]:
        return Pager(
            lambda cursor: self._client._page(_calls.list_wallets(page_size, cursor), Wallet),
            limit,
        )

    def create(self, currency: str) -> Wallet:
        return self._client.request(_calls.open_wallet(currency), Wallet)

    def retrieve(self, wallet_id: str) -> Wallet:
        return self._client.request(_calls.get_wallet(wallet_id), Wallet)

    def freeze(self, wallet_id: str) -> Wallet:
        return self._client.request(_calls.freeze_wallet(wallet_id), Wallet)

    def unfreeze(self, wallet_id: str) -> Wallet:
        return self._client.request(_calls.unfreeze_wallet(wallet_id), Wallet)

    def entries(
        self, wallet_id: str, *, limit: int | None = None, page_size: int = 100
    ) -> Pager[LedgerEntry]:
        return Pager(
            lambda cursor: self._client._page(
                _calls.list_entries(wallet_id, page_size, cursor), LedgerEntry
            ),
            limit,
        )


class TopUpsResource(_Resource):
    def create(
        self,
        wallet_id: str,
        amount: int,
        *,
        idempotency_key: str | None = None,
        wait: float | None = None,
    ) -> Transfer:
        """Sandbox funding of a wallet (a `top_up` saga); `amount` in minor units."""
        return self._client.request(
            _calls.create_top_up(wallet_id, amount, idempotency_key, wait), Transfer
        )


class TransfersResource(_Resource):
    def create(
        self,
        *,
        source_wallet_id: str,
        destination_wallet_id: str,
        amount: int,
        currency: str,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        wait: float | None = None,
    ) -> Transfer:
        """Starts a transfer saga. Sent with `idempotency_key` (a new uuid4 when None) and
        retried with that same key after a lost answer, a 429 or a 503: the money moves at most
        once. With `wait` (seconds, at most 10) the answer comes once it is terminal."""
        return self._client.request(
            _calls.create_transfer(
                source_wallet_id=source_wallet_id,
                destination_wallet_id=destination_wallet_id,
                amount=amount,
                currency=currency,
                description=description,
                metadata=metadata,
                idempotency_key=idempotency_key,
                wait=wait,
            ),
            Transfer,
        )

    def retrieve(self, transfer_id: str) -> Transfer:
        return self._client.request(_calls.get_transfer(transfer_id), Transfer)

    def list(
        self,
        *,
        status: str | None = None,
        wallet_id: str | None = None,
        created_gte: datetime | None = None,
        created_lte: datetime | None = None,
        limit: int | None = None,
        page_size: int = 100,
    ) -> Pager[Transfer]:
        """Every transfer touching the caller, newest first, fetched page by page."""
        return Pager(
            lambda cursor: self._client._page(
                _calls.list_transfers(
                    status=status,
                    wallet_id=wallet_id,
                    created_gte=created_gte,
                    created_lte=created_lte,
                    limit=page_size,
                    cursor=cursor,
                ),
                Transfer,
            ),
            limit,
        )

    def refund(
        self,
        transfer_id: str,
        *,
        amount: int | None = None,
        idempotency_key: str | None = None,
        wait: float | None = None,
    ) -> Transfer:
        """Returns part (`amount`) or all that is left of a completed transfer to its sender (by
        its recipient): the refund. Each idempotency key is one refund."""
        return self._client.request(
            _calls.refund_transfer(transfer_id, idempotency_key, wait, amount), Transfer
        )

    def stream(self, transfer_id: str, *, deadline: float | None = None) -> Iterator[Transfer]:
        """The transfer each time its saga changes state (server-sent events), ending once it
        is terminal; reconnects after a dropped stream. `deadline` (time.monotonic()) ends it
        early."""
        client = self._client
        last_state: str | None = None
        reconnects = 0
        while True:
            read_timeout = STREAM_READ_TIMEOUT_S
            if deadline is not None:
                read_timeout = max(0.05, min(read_timeout, deadline - time.monotonic()))
            response = client.send(
                _calls.stream_transfer(transfer_id),
                stream=True,
                http_timeout=httpx.Timeout(10.0, read=read_timeout),
            )
            try:
                decoder = SSEDecoder()
                for line in response.iter_lines():
                    event = decoder.feed(line)
                    if event is None or event.event != "transfer":
                        continue
                    transfer = Transfer.model_validate_json(event.data)
                    if transfer.state != last_state:
                        last_state = transfer.state
                        yield transfer
                    if transfer.is_terminal:
                        return
                    if deadline is not None and time.monotonic() >= deadline:
                        return
            except httpx.TransportError as exc:
                if deadline is not None and time.monotonic() >= deadline:
                    return
                if reconnects >= client.retry.max_retries:
                    raise APIConnectionError(f"the stream of {transfer_id} broke: {exc!r}") from exc
            finally:
                response.close()
            reconnects += 1
            time.sleep(client.retry.delay(reconnects))

    def wait(self, transfer_id: str, timeout: float = 30.0) -> Transfer:
        """The transfer once it is terminal (completed or failed): `GET` with `Prefer: wait`,
        which the gateway answers as soon as the transfer's last state is known (at most 10 s
        a call). Raises `WaitTimeoutError` after `timeout` s."""
        deadline = time.monotonic() + timeout
        current = self.retrieve(transfer_id)
        while not current.is_terminal:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WaitTimeoutError(
                    f"transfer {transfer_id} is still {current.status} ({current.state}) "
                    f"after {timeout}s",
                    current,
                )
            current = self._client.request(
                _calls.get_transfer(transfer_id, wait=min(_calls.MAX_WAIT_S, left)), Transfer
            )
        return current


class RefundsResource(_Resource):
    def create(
        self,
        transfer_id: str,
        *,
        amount: int | None = None,
        idempotency_key: str | None = None,
        wait: float | None = None,
    ) -> Transfer:
        """The refund of a completed transfer (see `transfers.refund`)."""
        return self._client.transfers.refund(
            transfer_id, amount=amount, idempotency_key=idempotency_key, wait=wait
        )


class WebhookEndpointsResource(_Resource):
    def create(
        self, url: str, event_types: Sequence[str] = ("*",), *, description: str | None = None
    ) -> WebhookEndpointCreated:
        """An endpoint and its signing secret (`whsec_...`), which is shown only here."""
        return self._client.request(
            _calls.create_endpoint(url, event_types, description), WebhookEndpointCreated
        )

    def list(self, *, limit: int | None = None, page_size: int = 100) -> Pager[WebhookEndpoint]:
        return Pager(
            lambda cursor: self._client._page(
                _calls.list_endpoints(page_size, cursor), WebhookEndpoint
            ),
            limit,
        )

    def retrieve(self, endpoint_id: str) -> WebhookEndpoint:
        return self._client.request(_calls.get_endpoint(endpoint_id), WebhookEndpoint)

    def update(self, endpoint_id: str, **changes: Any) -> WebhookEndpoint:
        """Any of `url`, `event_types`, `description`, `status` ("enabled" / "disabled")."""
        return self._client.request(_calls.update_endpoint(endpoint_id, changes), WebhookEndpoint)

    def delete(self, endpoint_id: str) -> None:
        self._client.request_none(_calls.delete_endpoint(endpoint_id))

    def rotate_secret(self, endpoint_id: str) -> SigningSecret:
        """A new secret; the old one keeps signing beside it for 24 hours."""
        return self._client.request(_calls.rotate_secret(endpoint_id), SigningSecret)

    def deliveries(
        self,
        endpoint_id: str,
        *,
        status: str | None = None,
        limit: int | None = None,
        page_size: int = 100,
    ) -> Pager[Delivery]:
        return Pager(
            lambda cursor: self._client._page(
                _calls.list_deliveries(endpoint_id, status, page_size, cursor), Delivery
            ),
            limit,
        )


class DeliveriesResource(_Resource):
    def retrieve(self, delivery_id: str) -> Delivery:
        return self._client.request(_calls.get_delivery(delivery_id), Delivery)

    def retry(self, delivery_id: str) -> Delivery:
        return self._client.request(_calls.retry_delivery(delivery_id), Delivery)


class EventsResource(_Resource):
    def list(
        self, *, type: str | None = None, limit: int | None = None, page_size: int = 100
    ) -> Pager[Event]:
        return Pager(
            lambda cursor: self._client._page(_calls.list_events(type, page_size, cursor), Event),
            limit,
        )

    def retrieve(self, event_id: str) -> Event:
        return self._client.request(_calls.get_event(event_id), Event)


class SandboxResource(_Resource):
    def add_fault(
        self,
        step: str,
        mode: str,
        *,
        rate: float = 1.0,
        match_metadata: Mapping[str, str] | None = None,
    ) -> FaultRule:
        """Makes a saga step (`debit`, `ledger`, `credit`) of the caller's transfers fail
        (`reject`, `error`, `timeout`); `match_metadata` limits it to transfers carrying it."""
        return self._client.request(_calls.add_fault(step, mode, rate, match_metadata), FaultRule)

    def faults(self) -> list[FaultRule]:
        return list(self._client._page(_calls.list_faults(), FaultRule).data)

    def remove_fault(self, fault_id: str) -> None:
        self._client.request_none(_calls.remove_fault(fault_id))


class AdminResource(_Resource):
    def reconciliation(self) -> Reconciliation:
        """Every wallet against its ledger account, the journal's balance, stuck sagas."""
        return self._client.request(_calls.reconciliation(), Reconciliation)

    def transfer(self, transfer_id: str) -> Transfer:
        """Any transfer, whoever its owners (administrators only)."""
        return self._client.request(_calls.admin_transfer(transfer_id), Transfer)

    def users(self, *, limit: int | None = None, page_size: int = 100) -> Pager[User]:
        return Pager(
            lambda cursor: self._client._page(_calls.list_users(page_size, cursor), User), limit
        )
