"""Payment links: creating them (once per owner and Idempotency-Key), deactivating them, and
paying them with a transfer saga that carries the link's id and the platform's fee.

A payment is reserved on the link before its saga starts, exactly like a refund on its original
(`domain/reservations.py`): one guarded update holds the link for the payer's (caller, key) slot;
for a single-use link the same filter requires no payment in flight and none completed, so of
concurrent payers exactly one gets to pay it; a payment that fails gives the link back, one that
completes is counted (and `payment_link.paid` goes out). Links live in the orchestrator because
that is where the sagas they wait for end.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from payflow_contracts import new_id
from payflow_contracts.clock import Clock, utc_now
from payflow_contracts.paging import PagePosition
from payflow_orchestrator.coordinator import (
    TransferCoordinator,
    TransferRequest,
    request_from_json,
    request_to_json,
)
from payflow_orchestrator.domain.errors import (
    IdempotencyKeyReused,
    LinkContention,
    LinkKeyReused,
    LinkNotFound,
)
from payflow_orchestrator.domain.fees import FeePlan
from payflow_orchestrator.domain.payment_links import (
    PaymentLink,
    check_new_link,
    check_not_held,
    link_fingerprint,
    payment_amount,
)
from payflow_orchestrator.domain.reservations import Reservation, slot_for
from payflow_orchestrator.domain.saga_machine import SagaKind
from payflow_orchestrator.domain.transfer import Transfer
from payflow_orchestrator.ports import DuplicateLink, PaymentLinkStore, TransferRepository

MAX_ATTEMPTS = 20


class PaymentLinks:
    def __init__(
        self,
        links: PaymentLinkStore,
        transfers: TransferRepository,
        coordinator: TransferCoordinator,
        plan: FeePlan,
        max_transfer_amount: int,
        grace_ms: int,
        clock: Clock = utc_now,
    ) -> None:
        self._links = links
        self._transfers = transfers
        self._coordinator = coordinator
        self._plan = plan
        self._max_transfer_amount = max_transfer_amount
        self._grace_ms = grace_ms
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    # ------------------------------------------------------------ links

    async def create(
        self, *, owner_id: str, idempotency_key: str, fields: dict[str, Any]
    ) -> tuple[PaymentLink, bool]:
        """A new link (or the one this owner's key made). `fields`: wallet_id, currency, amount,
        min_amount, max_amount, description, metadata, single_use, expires_at, merchant_name.
        Raises `LinkRefused`, `LinkKeyReused`."""
        now = self._clock()
        # The merchant's name is a copy of the owner's, not part of what the request asked.
        fingerprint = link_fingerprint({k: v for k, v in fields.items() if k != "merchant_name"})
        low, high = check_new_link(
            amount=fields.get("amount"),
            min_amount=fields.get("min_amount"),
            max_amount=fields.get("max_amount"),
            currency=fields["currency"],
            expires_at=fields.get("expires_at"),
            now=now,
            plan=self._plan,
            max_transfer_amount=self._max_transfer_amount,
        )
        link = PaymentLink(
            id=new_id("pl"),
            owner_id=owner_id,
            idempotency_key=idempotency_key,
            request_fingerprint=fingerprint,
            created_at=now,
            **{**fields, "min_amount": low, "max_amount": high},
        )
        try:
            await self._links.add(link)
        except DuplicateLink as duplicate:
            if duplicate.existing.request_fingerprint != fingerprint:
                raise LinkKeyReused(idempotency_key) from None
            return duplicate.existing, False
        return link, True

    async def page(
        self, owner_id: str, limit: int, after: PagePosition | None
    ) -> tuple[list[PaymentLink], str | None]:
        return await self._links.page(owner_id, limit, after)

    async def get(self, link_id: str) -> PaymentLink:
        link = await self._links.get(link_id)
        if link is None:
            raise LinkNotFound(link_id)
        return link

    async def deactivate(self, link_id: str, owner_id: str) -> PaymentLink:
        link = await self._links.deactivate(link_id, owner_id, self._clock())
        if link is None:
            raise LinkNotFound(link_id)
        return link

    # ------------------------------------------------------------ payments

    async def pay(
        self,
        link_id: str,
        *,
        payer_id: str,
        idempotency_key: str,
        source_wallet_id: str,
        amount: int | None,
    ) -> tuple[Transfer, bool]:
        """Start (or find) the payer's payment of the link. Returns (transfer, created).
        Raises `LinkNotFound`, `LinkRefused`, `LinkKeyReused`, `LinkContention`."""
        existing = await self._transfers.find_by_key(payer_id, idempotency_key)
        if existing is not None:
            _same_payment(existing.payment_link_id, existing.source_wallet_id, existing.amount)(
                link_id, source_wallet_id, amount
            )
            return existing, False
        slot = slot_for(payer_id, idempotency_key)
        for attempt in range(MAX_ATTEMPTS):
            link = await self.get(link_id)
            held = link.reservations.get(slot)
            if held is not None:  # this key reserved already (a concurrent or a dead request)
                _same_payment(link_id, held.request["source_wallet_id"], held.amount)(
                    link_id, source_wallet_id, amount
                )
                return await self._start(request_from_json(held.request))
            now = self._clock()
            gross, fee = payment_amount(link, amount, now, self._plan)
            if attempt > 0:
                check_not_held(link)
            request = TransferRequest(
                kind=SagaKind.TRANSFER,
                initiator_id=payer_id,
                idempotency_key=idempotency_key,
                source_wallet_id=source_wallet_id,
                destination_wallet_id=link.wallet_id,
                amount=gross,
                currency=link.currency,
                description=link.description or f"payment link {link.id}",
                metadata=dict(link.metadata),
                owner_ids=[payer_id, link.owner_id],
                transfer_id=new_id("tr"),
                fee=fee,
                payment_link_id=link.id,
            )
            now_ms = int(now.timestamp() * 1000)
            reservation = Reservation(
                saga_id=str(request.transfer_id),
                amount=gross,
                reserved_at_ms=now_ms,
                request=request_to_json(request),
            )
            if await self._links.reserve(link, slot, reservation, now_ms, now_ms + self._grace_ms):
                return await self._start(request)
            # Lost the guarded update: another payer holds a single-use link, the link changed
            # (deactivated, expired), or this key's retry took the slot. Decide again.
        raise LinkContention(link_id)

    async def _start(self, request: TransferRequest) -> tuple[Transfer, bool]:
        try:
            return await self._coordinator.start(request)
        except IdempotencyKeyReused as reused:  # answered as a request about the link
            raise LinkKeyReused(str(reused)) from None


def _same_payment(
    link_id: str | None, source_wallet_id: str | None, reserved: int
) -> Callable[[str, str, int | None], None]:
    """A repeated key must repeat the request: the same link and source wallet, and the same
    amount when one was given."""

    def check(wanted_link: str, wanted_source: str, requested: int | None) -> None:
        if (
            link_id != wanted_link
            or source_wallet_id != wanted_source
            or (requested is not None and requested != reserved)
        ):
            raise LinkKeyReused(wanted_link)

    return check
