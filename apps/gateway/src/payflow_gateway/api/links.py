"""Public routes of payment links: the merchant creates, lists, reads and deactivates its links
and sees the payments of each; any signed-in payer pays one. A link that is not the caller's
answers 404 like a missing one on the merchant's routes; paying needs only the link's id."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from payflow_contracts.transfers import TransferPublic
from payflow_gateway.api.checks import check_amount, check_currency
from payflow_gateway.api.schemas import (
    PaymentLinkCreate,
    PaymentLinkList,
    PaymentLinkPay,
    PaymentLinkPublic,
    TransferList,
)
from payflow_gateway.api.transfers import TERMINAL_ANSWER, transfer_list_response
from payflow_gateway.deps import (
    CurrentUser,
    Idempotent,
    Links,
    Live,
    Services,
    Settings,
    Wallets,
)
from payflow_gateway.domain.errors import (
    LinkCurrencyMismatch,
    LinkPaidFromItsWallet,
    PayerCurrencyMismatch,
    PaymentLinkNotFound,
    WalletNotFound,
)
from payflow_gateway.ports import PaymentLinkService
from payflow_gateway.problems import problem_responses
from payflow_gateway.transfers import answer, wait_seconds

router = APIRouter(prefix="/v1/payment-links", tags=["payment links"])

Limit = Annotated[int, Query(ge=1, le=100)]


def public_link(link: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The link resource: the orchestrator's view less its owner, plus where a payer pays it."""
    url = f"{base_url}/pay/{link['id']}"
    return {
        **{k: v for k, v in link.items() if k != "owner_id"},
        "url": url,
        "qr": {"png_url": f"{url}/qr.png", "svg_url": f"{url}/qr.svg"},
    }


async def owned_link(links: PaymentLinkService, link_id: str, user_id: str) -> dict[str, Any]:
    link = await links.link(link_id)
    if link is None or link["owner_id"] != user_id:
        raise PaymentLinkNotFound(link_id)
    return link


@router.post(
    "",
    status_code=201,
    response_model=PaymentLinkPublic,
    responses=problem_responses(400, 401, 404, 409, 422),
    summary="Create a payment link into one of the caller's wallets; requires an Idempotency-Key",
)
async def create_link(
    body: PaymentLinkCreate,
    request: Request,
    user: CurrentUser,
    links: Links,
    wallets: Wallets,
    idempotent: Idempotent,
    settings: Settings,
) -> JSONResponse:
    for amount in (body.amount, body.min_amount, body.max_amount):
        if amount is not None:
            check_amount(amount, settings)
    check_currency(body.currency, settings)
    base_url = settings.public_base()

    async def work() -> tuple[int, dict[str, Any]]:
        wallet = await wallets.facts(body.wallet_id)
        if wallet is None or not wallet.is_owned_by(user.id):
            raise WalletNotFound(body.wallet_id)
        if wallet.currency != body.currency:
            raise LinkCurrencyMismatch(body.currency)
        link = await links.create(
            {
                "owner_id": user.id,
                "idempotency_key": request.headers["idempotency-key"],
                **body.model_dump(mode="json"),
                "merchant_name": user.name,
            }
        )
        return 201, public_link(link, base_url)

    return await idempotent.run(request, user.id, body.model_dump(mode="json"), work)


@router.get(
    "",
    response_model=PaymentLinkList,
    responses=problem_responses(400, 401, 422),
    summary="The caller's payment links, newest first",
)
async def list_links(
    user: CurrentUser,
    links: Links,
    settings: Settings,
    limit: Limit = 20,
    cursor: str | None = None,
) -> JSONResponse:
    page = await links.links_of(user.id, limit, cursor)
    base_url = settings.public_base()
    return JSONResponse(
        {
            "data": [public_link(link, base_url) for link in page["data"]],
            "next_cursor": page["next_cursor"],
        }
    )


@router.get(
    "/{link_id}",
    response_model=PaymentLinkPublic,
    responses=problem_responses(401, 404),
    summary="One of the caller's payment links",
)
async def get_link(
    link_id: str, user: CurrentUser, links: Links, settings: Settings
) -> JSONResponse:
    return JSONResponse(
        public_link(await owned_link(links, link_id, user.id), settings.public_base())
    )


@router.post(
    "/{link_id}/deactivate",
    response_model=PaymentLinkPublic,
    responses=problem_responses(401, 404),
    summary="Deactivate a payment link: it refuses every payment from now on",
)
async def deactivate_link(
    link_id: str, user: CurrentUser, links: Links, settings: Settings
) -> JSONResponse:
    await owned_link(links, link_id, user.id)
    return JSONResponse(
        public_link(await links.deactivate(link_id, user.id), settings.public_base())
    )


@router.get(
    "/{link_id}/payments",
    response_model=TransferList,
    responses=problem_responses(400, 401, 404, 422),
    summary="The transfers that paid (or tried to pay) the link, newest first",
)
async def link_payments(
    link_id: str, user: CurrentUser, links: Links, limit: Limit = 20, cursor: str | None = None
) -> Response:
    await owned_link(links, link_id, user.id)
    page = await links.payments(link_id, limit, cursor)
    return transfer_list_response(page.items, page.next_cursor)


@router.post(
    "/{link_id}/pay",
    status_code=202,
    response_model=TransferPublic,
    responses={200: TERMINAL_ANSWER, **problem_responses(400, 401, 404, 409, 410, 422)},
    summary="Pay a payment link from one of the caller's wallets (a transfer saga)",
)
async def pay_link(
    link_id: str,
    body: PaymentLinkPay,
    request: Request,
    user: CurrentUser,
    links: Links,
    services: Services,
    wallets: Wallets,
    idempotent: Idempotent,
    settings: Settings,
    live: Live,
) -> JSONResponse:
    """A transfer saga like any other, carrying `payment_link_id` and the platform's `fee`. A
    single-use link accepts exactly one completed payment; an expired or deactivated link is
    refused (410)."""
    if body.amount is not None:
        check_amount(body.amount, settings)
    wait = wait_seconds(request.headers.get("prefer", ""))

    async def work() -> tuple[int, dict[str, Any]]:
        link = await links.link(link_id)
        if link is None:
            raise PaymentLinkNotFound(link_id)
        source = await wallets.facts(body.source_wallet_id)
        if source is None or not source.is_owned_by(user.id):
            raise WalletNotFound(body.source_wallet_id)
        if source.currency != link["currency"]:
            raise PayerCurrencyMismatch(link_id)
        if source.id == link["wallet_id"]:
            raise LinkPaidFromItsWallet(link_id)
        transfer = await links.pay(
            link_id,
            {
                "initiator_id": user.id,
                "idempotency_key": request.headers["idempotency-key"],
                "source_wallet_id": body.source_wallet_id,
                "amount": body.amount,
            },
        )
        return await answer(services, live, transfer, wait)

    return await idempotent.run(request, user.id, {"link": link_id, **body.model_dump()}, work)
