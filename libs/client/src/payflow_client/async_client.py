"""`AsyncPayFlow`: the asynchronous client, with the same resources as `PayFlow`, awaited.

async with AsyncPayFlow("http://127.0.0.1:8000", api_key="pf_test_...") as client:
    transfer = await client.transfers.create(
        source_wallet_id=..., destination_wallet_id=..., amount=1_250, currency="USD"
    )
    transfer = await client.transfers.wait(transfer.id, timeout=30)
    async for failed in client.transfers.list(status="failed"):
        ...
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
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
from payflow_client.client import STREAM_READ_TIMEOUT_S
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
from payflow_client.pagination import AsyncPager
from payflow_client.sse import SSEDecoder
from payflow_client.webhooks import Webhooks


class AsyncPayFlow:
    """The asynchronous client; see `PayFlow` for authentication, retries and errors."""

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
        http_client: httpx.AsyncClient | None = None,
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
        self._http = http_client or httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout, headers={"User-Agent": USER_AGENT}
        )
        self._renewal = asyncio.Lock()

        self.auth = AsyncAuthResource(self)
        self.api_keys = AsyncApiKeysResource(self)
        self.wallets = AsyncWalletsResource(self)
        self.top_ups = AsyncTopUpsResource(self)
        self.transfers = AsyncTransfersResource(self)
        self.refunds = AsyncRefundsResource(self)
        self.webhook_endpoints = AsyncWebhookEndpointsResource(self)
        self.deliveries = AsyncDeliveriesResource(self)
        self.events = AsyncEventsResource(self)
        self.sandbox = AsyncSandboxResource(self)
        self.admin = AsyncAdminResource(self)
        self.webhooks = Webhooks()

    # ------------------------------------------------------------ lifecycle
    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncPayFlow:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------ sending
    async def request(self, call: Call, model: type[M]) -> M:
        response = await self.send(call)
        return parse(model, decode_body(response))

    async def request_none(self, call: Call) -> None:
        await self.send(call)

    async def send(
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
                await self._log_in_with_password()
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
                response = await self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                if retries < policy.max_retries and should_retry_transport(call, exc):
                    retries += 1
                    await asyncio.sleep(policy.delay(retries))
                    continue
                raise APIConnectionError(
                    f"{call.method} {call.path}: no answer from {self.base_url} ({exc!r})",
                    call.idempotency_key,
                ) from exc
            if response.status_code < 400:
                return response
            if stream:
                await response.aread()
                await response.aclose()
            body = decode_body(response)
            error = error_of(response, body)
            if (
                not renewed
                and call.authenticated
                and needs_refresh(error, self.tokens, sent_bearer)
            ):
                renewed = True
                await self._renew(sent_bearer)
                continue
            if should_retry_status(call, response, body):
                wait_hint = parse_retry_after(response.headers.get("retry-after"))
                if error.code == "idempotency_key_in_use":
                    now = time.monotonic()
                    in_use_until = in_use_until or now + policy.key_in_use_patience
                    if now < in_use_until:
                        await asyncio.sleep(policy.delay(1, wait_hint))
                        continue
                elif retries < policy.max_retries:
                    retries += 1
                    await asyncio.sleep(policy.delay(retries, wait_hint))
                    continue
            raise error

    async def _renew(self, failed_bearer: str | None) -> None:
        async with self._renewal:
            if self.tokens.access_token != failed_bearer:
                return  # another task renewed it meanwhile
            refresh_token = self.tokens.refresh_token
            assert refresh_token is not None
            try:
                pair = await self.request(_calls.refresh(refresh_token), TokenPair)
            except AuthenticationError:
                self.tokens.clear()
                if not self._password:
                    raise
                await self._log_in_with_password()
                return
            self.tokens.set_tokens(pair.access_token, pair.refresh_token)

    async def _log_in_with_password(self) -> None:
        assert self._email and self._password
        pair = await self.request(_calls.login(self._email, self._password), TokenPair)
        self.tokens.set_tokens(pair.access_token, pair.refresh_token)

    async def _page(self, call: Call, model: type[Any]) -> Page[Any]:
        return await self.request(call, Page[model])  # type: ignore[valid-type]


class _AsyncResource:
    def __init__(self, client: AsyncPayFlow) -> None:
        self._client = client


class AsyncAuthResource(_AsyncResource):
    async def register(self, email: str, password: str, name: str) -> Registered:
        return await self._client.request(_calls.register(email, password, name), Registered)

    async def login(self, email: str, password: str) -> TokenPair:
        pair = await self._client.request(_calls.login(email, password), TokenPair)
        self._client.tokens.set_tokens(pair.access_token, pair.refresh_token)
        return pair

    async def logout(self) -> None:
        refresh_token = self._client.tokens.refresh_token
        if refresh_token:
            await self._client.request_none(_calls.logout(refresh_token))
        self._client.tokens.clear()

    async def me(self) -> User:
        return await self._client.request(_calls.me(), User)


class AsyncApiKeysResource(_AsyncResource):
    async def create(self, name: str) -> ApiKeyCreated:
        return await self._client.request(_calls.create_api_key(name), ApiKeyCreated)

    def list(self, *, limit: int | None = None, page_size: int = 100) -> AsyncPager[ApiKey]:
        return AsyncPager(
            lambda cursor: self._client._page(_calls.list_api_keys(page_size, cursor), ApiKey),
            limit,
        )

    async def revoke(self, key_id: str) -> None:
        await self._client.request_none(_calls.revoke_api_key(key_id))


class AsyncWalletsResource(_AsyncResource):
    def list(self, *, limit: int | None = None, page_size: int = 100) -> AsyncPager[Wallet]:
        return AsyncPager(
            lambda cursor: self._client._page(_calls.list_wallets(page_size, cursor), Wallet),
            limit,
        )

    async def create(self, currency: str) -> Wallet:
        return await self._client.request(_calls.open_wallet(currency), Wallet)

    async def retrieve(self, wallet_id: str) -> Wallet:
        return await self._client.request(_calls.get_wallet(wallet_id), Wallet)

    async def freeze(self, wallet_id: str) -> Wallet:
        return await self._client.request(_calls.freeze_wallet(wallet_id), Wallet)

    async def unfreeze(self, wallet_id: str) -> Wallet:
        return await self._client.request(_calls.unfreeze_wallet(wallet_id), Wallet)

    def entries(
        self, wallet_id: str, *, limit: int | None = None, page_size: int = 100
    ) -> AsyncPager[LedgerEntry]:
        return AsyncPager(
            lambda cursor: self._client._page(
                _calls.list_entries(wallet_id, page_size, cursor), LedgerEntry
            ),
            limit,
        )


class AsyncTopUpsResource(_AsyncResource):
    async def create(
        self,
        wallet_id: str,
        amount: int,
        *,
        idempotency_key: str | None = None,
        wait: float | None = None,
    ) -> Transfer:
        return await self._client.request(
            _calls.create_top_up(wallet_id, amount, idempotency_key, wait), Transfer
        )


class AsyncTransfersResource(_AsyncResource):
    async def create(
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
        return await self._client.request(
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

    async def retrieve(self, transfer_id: str) -> Transfer:
        return await self._client.request(_calls.get_transfer(transfer_id), Transfer)

    def list(
        self,
        *,
        status: str | None = None,
        wallet_id: str | None = None,
        created_gte: datetime | None = None,
        created_lte: datetime | None = None,
        limit: int | None = None,
        page_size: int = 100,
    ) -> AsyncPager[Transfer]:
        return AsyncPager(
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

    async def refund(
        self,
        transfer_id: str,
        *,
        amount: int | None = None,
        idempotency_key: str | None = None,
        wait: float | None = None,
    ) -> Transfer:
        return await self._client.request(
            _calls.refund_transfer(transfer_id, idempotency_key, wait, amount), Transfer
        )

    async def stream(
        self, transfer_id: str, *, deadline: float | None = None
    ) -> AsyncIterator[Transfer]:
        client = self._client
        last_state: str | None = None
        reconnects = 0
        while True:
            read_timeout = STREAM_READ_TIMEOUT_S
            if deadline is not None:
                read_timeout = max(0.05, min(read_timeout, deadline - time.monotonic()))
            response = await client.send(
                _calls.stream_transfer(transfer_id),
                stream=True,
                http_timeout=httpx.Timeout(10.0, read=read_timeout),
            )
            try:
                decoder = SSEDecoder()
                async for line in response.aiter_lines():
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
                await response.aclose()
            reconnects += 1
            await asyncio.sleep(client.retry.delay(reconnects))

    async def wait(self, transfer_id: str, timeout: float = 30.0) -> Transfer:  # noqa: ASYNC109
        """The transfer once it is terminal (completed or failed): `GET` with `Prefer: wait`,
        which the gateway answers as soon as the transfer's last state is known (at most 10 s
        a call). Raises `WaitTimeoutError` after `timeout` s."""
        deadline = time.monotonic() + timeout
        current = await self.retrieve(transfer_id)
        while not current.is_terminal:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WaitTimeoutError(
                    f"transfer {transfer_id} is still {current.status} ({current.state}) "
                    f"after {timeout}s",
                    current,
                )
            current = await self._client.request(
                _calls.get_transfer(transfer_id, wait=min(_calls.MAX_WAIT_S, left)), Transfer
            )
        return current


class AsyncRefundsResource(_AsyncResource):
    async def create(
        self,
        transfer_id: str,
        *,
        amount: int | None = None,
        idempotency_key: str | None = None,
        wait: float | None = None,
    ) -> Transfer:
        return await self._client.transfers.refund(
            transfer_id, amount=amount, idempotency_key=idempotency_key, wait=wait
        )


class AsyncWebhookEndpointsResource(_AsyncResource):
    async def create(
        self, url: str, event_types: Sequence[str] = ("*",), *, description: str | None = None
    ) -> WebhookEndpointCreated:
        return await self._client.request(
            _calls.create_endpoint(url, event_types, description), WebhookEndpointCreated
        )

    def list(
        self, *, limit: int | None = None, page_size: int = 100
    ) -> AsyncPager[WebhookEndpoint]:
        return AsyncPager(
            lambda cursor: self._client._page(
                _calls.list_endpoints(page_size, cursor), WebhookEndpoint
            ),
            limit,
        )

    async def retrieve(self, endpoint_id: str) -> WebhookEndpoint:
        return await self._client.request(_calls.get_endpoint(endpoint_id), WebhookEndpoint)

    async def update(self, endpoint_id: str, **changes: Any) -> WebhookEndpoint:
        return await self._client.request(
            _calls.update_endpoint(endpoint_id, changes), WebhookEndpoint
        )

    async def delete(self, endpoint_id: str) -> None:
        await self._client.request_none(_calls.delete_endpoint(endpoint_id))

    async def rotate_secret(self, endpoint_id: str) -> SigningSecret:
        return await self._client.request(_calls.rotate_secret(endpoint_id), SigningSecret)

    def deliveries(
        self,
        endpoint_id: str,
        *,
        status: str | None = None,
        limit: int | None = None,
        page_size: int = 100,
    ) -> AsyncPager[Delivery]:
        return AsyncPager(
            lambda cursor: self._client._page(
                _calls.list_deliveries(endpoint_id, status, page_size, cursor), Delivery
            ),
            limit,
        )


class AsyncDeliveriesResource(_AsyncResource):
    async def retrieve(self, delivery_id: str) -> Delivery:
        return await self._client.request(_calls.get_delivery(delivery_id), Delivery)

    async def retry(self, delivery_id: str) -> Delivery:
        return await self._client.request(_calls.retry_delivery(delivery_id), Delivery)


class AsyncEventsResource(_AsyncResource):
    def list(
        self, *, type: str | None = None, limit: int | None = None, page_size: int = 100
    ) -> AsyncPager[Event]:
        return AsyncPager(
            lambda cursor: self._client._page(_calls.list_events(type, page_size, cursor), Event),
            limit,
        )

    async def retrieve(self, event_id: str) -> Event:
        return await self._client.request(_calls.get_event(event_id), Event)


class AsyncSandboxResource(_AsyncResource):
    async def add_fault(
        self,
        step: str,
        mode: str,
        *,
        rate: float = 1.0,
        match_metadata: Mapping[str, str] | None = None,
    ) -> FaultRule:
        return await self._client.request(
            _calls.add_fault(step, mode, rate, match_metadata), FaultRule
        )

    async def faults(self) -> list[FaultRule]:
        return list((await self._client._page(_calls.list_faults(), FaultRule)).data)

    async def remove_fault(self, fault_id: str) -> None:
        await self._client.request_none(_calls.remove_fault(fault_id))


class AsyncAdminResource(_AsyncResource):
    async def reconciliation(self) -> Reconciliation:
        return await self._client.request(_calls.reconciliation(), Reconciliation)

    async def transfer(self, transfer_id: str) -> Transfer:
        """Any transfer, whoever its owners (administrators only)."""
        return await self._client.request(_calls.admin_transfer(transfer_id), Transfer)

    def users(self, *, limit: int | None = None, page_size: int = 100) -> AsyncPager[User]:
        return AsyncPager(
            lambda cursor: self._client._page(_calls.list_users(page_size, cursor), User), limit
        )
