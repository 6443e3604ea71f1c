"""What a payment link's URL leads to, outside the JSON API: the hosted pay page (`/pay/{id}`),
its script and style sheet, and the link's QR codes. No authentication: a link id is the
capability to see what it asks for; paying needs the payer to sign in (in the page, with the
JSON API). Left out of the OpenAPI document, like /healthz."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from payflow_gateway.links.api import Links, link_not_found, public_base_url
from payflow_gateway.links.qr import qr_png, qr_svg

router = APIRouter(prefix="/pay", include_in_schema=False)

QR_CACHE = "public, max-age=3600"
"""A link's URL never changes, so its QR code does not either."""


async def existing_link(link_id: str, links: Links) -> dict[str, Any]:
    link = await links.link(link_id)
    if link is None:
        raise link_not_found()
    return link


Link = Annotated[dict[str, Any], Depends(existing_link)]


def link_url(request: Request, link_id: str) -> str:
    return f"{public_base_url(request)}/pay/{link_id}"


@router.get("/{link_id}/qr.png")
async def link_qr_png(link_id: str, request: Request, link: Link) -> Response:
    return Response(
        qr_png(link_url(request, link["id"])),
        media_type="image/png",
        headers={"Cache-Control": QR_CACHE},
    )


@router.get("/{link_id}/qr.svg")
async def link_qr_svg(link_id: str, request: Request, link: Link) -> Response:
    title = f"Pay {link['merchant_name']}"
    return Response(
        qr_svg(link_url(request, link["id"]), title=title),
        media_type="image/svg+xml",
        headers={"Cache-Control": QR_CACHE},
    )
