"""What a payment link's URL leads to, outside the JSON API: the hosted pay page (`/pay/{id}`),
its script and style sheet, and the link's QR codes. No authentication: a link id is the
capability to see what it asks for; paying needs the payer to sign in (in the page, with the
JSON API). Left out of the OpenAPI document, like /healthz."""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import HTMLResponse

from payflow_gateway.deps import Links, Settings
from payflow_gateway.domain.errors import PaymentLinkNotFound
from payflow_gateway.links.pay_page import CONTENT_SECURITY_POLICY, render_pay_page
from payflow_gateway.links.qr import qr_png, qr_svg
from payflow_gateway.settings import GatewaySettings

router = APIRouter(prefix="/pay", include_in_schema=False)

QR_CACHE = "public, max-age=3600"
"""A link's URL never changes, so its QR code does not either."""

PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}

_STATIC = resources.files("payflow_gateway.links") / "static"
ASSETS = {
    "pay.js": ((_STATIC / "pay.js").read_bytes(), "text/javascript; charset=utf-8"),
    "pay.css": ((_STATIC / "pay.css").read_bytes(), "text/css; charset=utf-8"),
    "icon.svg": ((_STATIC / "icon.svg").read_bytes(), "image/svg+xml"),
}


async def existing_link(link_id: str, links: Links) -> dict[str, Any]:
    link = await links.link(link_id)
    if link is None:
        raise PaymentLinkNotFound(link_id)
    return link


Link = Annotated[dict[str, Any], Depends(existing_link)]


def link_url(settings: GatewaySettings, link_id: str) -> str:
    return f"{settings.public_base()}/pay/{link_id}"


@router.get("/assets/pay.js")
async def pay_script() -> Response:
    body, media_type = ASSETS["pay.js"]
    return Response(body, media_type=media_type, headers={"Cache-Control": "no-cache"})


@router.get("/assets/pay.css")
async def pay_style() -> Response:
    body, media_type = ASSETS["pay.css"]
    return Response(body, media_type=media_type, headers={"Cache-Control": "no-cache"})


@router.get("/assets/icon.svg")
async def pay_icon() -> Response:
    body, media_type = ASSETS["icon.svg"]
    return Response(body, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})


@router.get("/{link_id}", response_class=HTMLResponse)
async def pay_page(link_id: str, settings: Settings, link: Link) -> HTMLResponse:
    """The hosted pay page: the merchant, the amount, the description and the QR code; the
    payer signs in, picks a wallet, confirms and watches the payment live (static/pay.js)."""
    url = link_url(settings, link["id"])
    return HTMLResponse(render_pay_page(link, url), headers=PAGE_HEADERS)


@router.get("/{link_id}/qr.png")
async def link_qr_png(link_id: str, settings: Settings, link: Link) -> Response:
    return Response(
        qr_png(link_url(settings, link["id"])),
        media_type="image/png",
        headers={"Cache-Control": QR_CACHE},
    )


@router.get("/{link_id}/qr.svg")
async def link_qr_svg(link_id: str, settings: Settings, link: Link) -> Response:
    title = f"Pay {link['merchant_name']}"
    return Response(
        qr_svg(link_url(settings, link["id"]), title=title),
        media_type="image/svg+xml",
        headers={"Cache-Control": QR_CACHE},
    )
