"""QR codes of a payment link's URL, as PNG and SVG (segno: pure Python, no image library)."""

from __future__ import annotations

import io

import segno

# Medium error correction (15 %): survives a smudged print, keeps the code small for a URL.
ERROR_CORRECTION = "m"
SCALE = 8  # pixels (PNG) or user units (SVG) per module
QUIET_ZONE = 4  # modules of blank border, as ISO/IEC 18004 asks


def _code(url: str) -> segno.QRCode:
    return segno.make_qr(url, error=ERROR_CORRECTION)


def qr_png(url: str) -> bytes:
    out = io.BytesIO()
    _code(url).save(out, kind="png", scale=SCALE, border=QUIET_ZONE)
    return out.getvalue()


def qr_svg(url: str, title: str | None = None) -> bytes:
    out = io.BytesIO()
    _code(url).save(
        out,
        kind="svg",
        scale=SCALE,
        border=QUIET_ZONE,
        xmldecl=False,
        title=title,
        svgclass=None,
        lineclass=None,
    )
    return out.getvalue()
