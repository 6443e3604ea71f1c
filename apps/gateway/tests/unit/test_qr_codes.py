"""QR codes of payment-link URLs: the PNG decodes back to the URL (zxing-cpp, a reader built
independently of the segno writer), the SVG is a well-formed vector image of the same code."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import pytest
import zxingcpp
from PIL import Image

from payflow_gateway.links.qr import qr_png, qr_svg

URLS = [
    "http://127.0.0.1:8000/pay/pl_6742c1a0f3e2d4b5a6978877",
    "https://pay.example.com/pay/pl_00000000ffffffffffffffff",
]


def decode_png(png: bytes) -> list[str]:
    image = Image.open(io.BytesIO(png))
    return [result.text for result in zxingcpp.read_barcodes(image)]


@pytest.mark.parametrize("url", URLS)
def test_the_png_decodes_back_to_the_url(url: str) -> None:
    png = qr_png(url)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert decode_png(png) == [url]


def test_the_png_is_big_enough_to_scan_from_a_phone() -> None:
    width, height = Image.open(io.BytesIO(qr_png(URLS[0]))).size
    assert width == height >= 200


@pytest.mark.parametrize("url", URLS)
def test_the_svg_is_one_square_vector_image_with_its_title(url: str) -> None:
    svg = qr_svg(url, title="Pay Mugs & Co")
    root = ET.fromstring(svg)  # noqa: S314 - our own output, not untrusted data
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("width") == root.get("height")
    assert root.find("{http://www.w3.org/2000/svg}title").text == "Pay Mugs & Co"  # type: ignore[union-attr]
    assert root.find("{http://www.w3.org/2000/svg}path") is not None
    assert b"<script" not in svg


def test_the_svg_draws_the_same_code_as_the_png() -> None:
    """Rasterise the SVG's path (horizontal runs of dark modules) and decode it."""
    url = URLS[0]
    root = ET.fromstring(qr_svg(url))  # noqa: S314 - our own output
    size = int(root.get("width", "0")) // 8  # modules, quiet zone included
    path = root.find("{http://www.w3.org/2000/svg}path")
    assert path is not None
    image = Image.new("L", (size * 8, size * 8), 255)
    pixels = image.load()
    assert pixels is not None
    x = y = 0.0
    for op, first, second in re.findall(
        r"([Mmh])\s*(-?[\d.]+)(?:[\s,]+(-?[\d.]+))?", path.get("d", "")
    ):
        if op == "M":
            x, y = float(first), float(second)
        elif op == "m":
            x, y = x + float(first), y + float(second)
        else:  # h: a run of dark modules on the row whose centre line is y
            row, run = int(y), int(float(first))
            for col in range(int(x), int(x) + run):
                for py in range(row * 8, row * 8 + 8):
                    for px in range(col * 8, col * 8 + 8):
                        pixels[px, py] = 0
            x += run
    assert [r.text for r in zxingcpp.read_barcodes(image)] == [url]
