"""Bytes someone says are an image → checked, upright, metadata-free renditions.

Two renditions per image, named by the widths they are for: `600` (emails are 600 px
wide) and `1200` (the same at 2x for pages on high-density screens); neither is ever
wider than the original, so a small image gives two equal files. JPEG stays JPEG
(quality 85, progressive); PNG stays PNG (charts and screenshots keep sharp edges); GIF
and WebP become PNG when they have transparency, else JPEG (WebP does not show in every
mail client; only the first frame of an animation is kept). EXIF orientation is applied
and every metadata block (EXIF with its GPS position, ICC aside) is dropped.

The size checks happen on the header, before any pixel is decoded: a 50-megapixel PNG
that compresses to a few kilobytes is refused without allocating 200 MB for it.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from dispatch.errors import MediaError

WIDTHS = (600, 1200)
FORMATS = {"JPEG": "JPEG", "PNG": "PNG", "GIF": None, "WEBP": None}
EXTENSIONS = {"JPEG": "jpg", "PNG": "png"}
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}
VERSION = b"dispatch-media-1"  # part of every key: new processing rules give new names


@dataclass(frozen=True)
class Rendition:
    label: int  # 600 or 1200: the width it is meant for
    width: int
    height: int
    data: bytes


@dataclass(frozen=True)
class Processed:
    key: str  # content address: hash of the original bytes and VERSION
    format: str  # "JPEG" or "PNG"
    width: int  # of the original, upright
    height: int
    renditions: tuple[Rendition, ...]
    animated: bool = False

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


def process(name: str, data: bytes, max_bytes: int, max_pixels: int) -> Processed:
    """Check and resize one image; MediaError names it and says what is wrong."""
    if not data:
        raise MediaError(f"{name}: the file is empty")
    if len(data) > max_bytes:
        raise MediaError(f"{name}: {len(data):,} bytes, over the {max_bytes:,}-byte limit")
    with _open(name, data) as image:
        kind = image.format or "?"
        if kind not in FORMATS:
            raise MediaError(f"{name}: {kind} images are not taken (JPEG, PNG, GIF or WebP)")
        _check_size(name, image.size, max_pixels)
        animated = bool(getattr(image, "is_animated", False))
        upright = _decoded(name, image)
    output = FORMATS[kind] or ("PNG" if _has_alpha(upright) else "JPEG")
    key = content_key(data)
    renditions = tuple(_render(upright, label, output) for label in WIDTHS)
    return Processed(key, output, upright.width, upright.height, renditions, animated)


def content_key(data: bytes) -> str:
    """The name an image's files get: its bytes and the processing rules, hashed."""
    return hashlib.sha256(VERSION + data).hexdigest()[:32]


def _open(name: str, data: bytes) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise MediaError(f"{name}: far too many pixels ({exc})") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise MediaError(f"{name}: not an image (JPEG, PNG, GIF or WebP expected)") from None


def _check_size(name: str, size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise MediaError(f"{name}: the image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise MediaError(
            f"{name}: {width}x{height} is {width * height / 1e6:.1f} megapixels, over the "
            f"{max_pixels / 1e6:g}-megapixel limit; make it smaller first"
        )


def _decoded(name: str, image: Image.Image) -> Image.Image:
    """The first frame, decoded and turned upright; MediaError when the data is damaged."""
    try:
        image.seek(0)
        upright = ImageOps.exif_transpose(image)
        upright.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise MediaError(f"{name}: the image is damaged or truncated ({exc})") from None
    return upright


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def _render(image: Image.Image, label: int, output: str) -> Rendition:
    copy = image.copy()
    if copy.width > label:
        copy.thumbnail((label, copy.height), Image.Resampling.LANCZOS)
    copy = _mode_for(copy, output)
    buffer = io.BytesIO()
    if output == "JPEG":
        copy.save(buffer, "JPEG", quality=85, optimize=True, progressive=True)
    else:
        copy.save(buffer, "PNG", optimize=True)
    return Rendition(label, copy.width, copy.height, buffer.getvalue())


def _mode_for(image: Image.Image, output: str) -> Image.Image:
    if output == "JPEG":
        return image if image.mode in ("RGB", "L") else image.convert("RGB")
    if image.mode in ("RGB", "RGBA", "L", "LA"):
        return image
    return image.convert("RGBA" if _has_alpha(image) else "RGB")
