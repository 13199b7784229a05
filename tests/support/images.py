"""Image files as editors have them, made with Pillow: a camera JPEG (EXIF orientation
and a GPS position), a chart PNG with transparency, a huge-but-small PNG, junk."""

from __future__ import annotations

import io

from PIL import Image


def camera_jpeg(width: int = 1600, height: int = 1200, rotated: bool = True) -> bytes:
    """A JPEG as phones write it: stored landscape, EXIF says "rotate 90°", GPS included."""
    image = Image.new("RGB", (width, height), (30, 90, 160))
    image.paste((250, 200, 20), (0, 0, width // 4, height // 4))  # a corner to find later
    exif = Image.Exif()
    if rotated:
        exif[0x0112] = 6  # Orientation: rotate 90° clockwise to view
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0)}  # GPSInfo: where it was taken
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, exif=exif)
    return buffer.getvalue()


def chart_png(width: int = 900, height: int = 500) -> bytes:
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    for x in range(0, width, 30):
        image.paste((200, 40, 40, 255), (x, height // 2, x + 20, height))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def huge_png(width: int = 7072, height: int = 7072) -> bytes:
    """50 megapixels that compress to a few kilobytes (a decompression bomb, politely)."""
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


def small_png(width: int = 40, height: int = 30) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 10)).save(buffer, "PNG")
    return buffer.getvalue()


NOT_AN_IMAGE = b"%PDF-1.4\n% a PDF renamed to chart.png by mistake\n"
