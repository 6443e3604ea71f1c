"""Public routes of payment links: the merchant creates, lists, reads and deactivates its links
and sees the payments of each; any signed-in payer pays one. A link that is not the caller's
answers 404 like a missing one on the merchant's routes; paying needs only the link's id."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from payflow_gateway.auth.dependencies import CurrentUser
from payflow_gateway.links.schemas import PaymentLinkCreate, PaymentLinkPay
from payflow_gateway.links.service import PaymentLinkService
from payflow_gateway.payments.deps import Idempotency, Live, Services, Settings, Wallets
from payflow_gateway.payments.idempotent import run_idempotently
from payflow_gateway.payments.schemas import problems
from payflow_gateway.payments.transfers_api import (
    _answer,
    _check_amount,
    _check_currency,
    _wait_seconds,
    public_transfer,
)
from payflow_service import ProblemError

router = APIRouter(prefix="/v1/payment-links", tags=["payment links"])

COMPONENT_KEY = "payment_links"
Limit = Annotated[int, Query(ge=1, le=100)]


async def payment_link_service(request: Request) -> PaymentLinkService:
    return request.app.state.runtime.components[COMPONENT_KEY]  # type: ignore[no-any-return]


Links = Annotated[PaymentLinkService, Depends(payment_link_service)]


def public_base_url(request: Request) -> str:
    """Where the payer's browser reaches the gateway (`PAYFLOW_PUBLIC_BASE_URL`)."""
    return request.app.state.runtime.settings.public_base()  # type: ignore[no-any-return]


def public_link(link: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The link resource: the orchestrator's view less its owner, plus where a payer pays it."""
    url = f"{base_url}/pay/{link['id']}"
    return {
        **{k: v for k, v in link.items() if k != "owner_id"},
        "url": url,
        "qr": {"png_url": f"{url}/qr.png", "svg_url": f"{url}/qr.svg"},
    }


def link_not_found() -> ProblemError:
    return ProblemError(404, "payment_link_not_found", "No such payment link.")


def _wallet_not_found() -> ProblemError:
    return ProblemError(404, "wallet_not_found", "No such wallet.")


async def owned_link(links: PaymentLinkService, link_id: str, user_id: str) -> dict[str, Any]:
    link = await links.link(link_id)
    if link is None or link["owner_id"] != user_id:
        raise link_not_found()
    return link


@router.post(
    "",
    status_code=201,
    responses=problems(400, 404, 409, 422),
    summary="Create a payment link into one of the caller's wallets; requires an Idempotency-Key",
)
async def create_link(
    body: PaymentLinkCreate,
    request: Request,
    user: CurrentUser,
    links: Links,
    wallets: Wallets,
    idempotency: Idempotency,
    settings: Settings,
) -> JSONResponse:
    for amount in (body.amount, body.min_amount, body.max_amount):
        if amount is not None:
            _check_amount(amount, settings)
    _check_currency(body.currency, settings)
    base_url = public_base_url(request)

    async def work() -> tuple[int, dict[str, Any]]:
        wallet = await wallets.directory.facts(body.wallet_id)
        if wallet is None or not wallet.is_owned_by(user.id):
            raise _wallet_not_found()
        if wallet.currency != body.currency:
            raise ProblemError(
                422, "currency_mismatch", "The link's currency must be its wallet's."
            )
        link = await links.create(
            {
                "owner_id": user.id,
                "idempotency_key": request.headers["idempotency-key"],
                **body.model_dump(mode="json"),
                "merchant_name": user.name,
            }
        )
        return 201, public_link(link, base_url)

    return await run_idempotently(request, idempotency, user.id, body.model_dump(mode="json"), work)


@router.get("", responses=problems(400, 422), summary="The caller's payment links, newest first")
async def list_links(
    request: Request, user: CurrentUser, links: Links, limit: Limit = 20, cursor: str | None = None
) -> dict[str, Any]:
    page = await links.links_of(user.id, limit, cursor)
    base_url = public_base_url(request)
    return {
        "data": [public_link(link, base_url) for link in page["data"]],
        "next_cursor": page["next_cursor"],
    }


@router.get("/{link_id}", responses=problems(404), summary="One of the caller's payment links")
async def get_link(
    link_id: str, request: Request, user: CurrentUser, links: Links
) -> dict[str, Any]:
    return public_link(await owned_link(links, link_id, user.id), public_base_url(request))


@router.post(
    "/{link_id}/deactivate",
    responses=problems(404),
    summary="Deactivate a payment link: it refuses every payment from now on",
)
async def deactivate_link(
    link_id: str, request: Request, user: CurrentUser, links: Links
) -> dict[str, Any]:
    await owned_link(links, link_id, user.id)
    return public_link(await links.deactivate(link_id, user.id), public_base_url(request))


@router.get(
    "/{link_id}/payments",
    responses=problems(400, 404, 422),
    summary="The transfers that paid (or tried to pay) the link, newest first",
)
async def link_payments(
    link_id: str, user: CurrentUser, links: Links, limit: Limit = 20, cursor: str | None = None
) -> dict[str, Any]:
    await owned_link(links, link_id, user.id)
    page = await links.payments(link_id, limit, cursor)
    return {"data": [public_transfer(t) for t in page["data"]], "next_cursor": page["next_cursor"]}


@router.post(
    "/{link_id}/pay",
    status_code=202,
    responses=problems(400, 404, 409, 410, 422),
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
    idempotency: Idempotency,
    settings: Settings,
    live: Live,
) -> JSONResponse:
    """A transfer saga like any other, carrying `payment_link_id` and the platform's `fee`. A
    single-use link accepts exactly one completed payment; an expired or deactivated link is
    refused (410)."""
    if body.amount is not None:
        _check_amount(body.amount, settings)
    wait = _wait_seconds(request)

    async def work() -> tuple[int, dict[str, Any]]:
        link = await links.link(link_id)
        if link is None:
            raise link_not_found()
        source = await wallets.directory.facts(body.source_wallet_id)
        if source is None or not source.is_owned_by(user.id):
            raise _wallet_not_found()
        if source.currency != link["currency"]:
            raise ProblemError(
                422, "currency_mismatch", "The source wallet must hold the link's currency."
            )
        if source.id == link["wallet_id"]:
            raise ProblemError(422, "same_wallet", "A link cannot be paid from its own wallet.")
        transfer = await links.pay(
            link_id,
            {
                "initiator_id": user.id,
                "idempotency_key": request.headers["idempotency-key"],
                "source_wallet_id": body.source_wallet_id,
                "amount": body.amount,
            },
        )
        return await _answer(services, live, transfer, wait)

    return await run_idempotently(
        request, idempotency, user.id, {"link": link_id, **body.model_dump()}, work
    )
