"""The media store: content-addressed files under `feeds.public_dir/media/`.

    media/{key[:2]}/{key}-600.{ext}    the 1x rendition (emails, and `src` on pages)
    media/{key[:2]}/{key}-1200.{ext}   the 2x rendition (`srcset` on pages, OpenGraph)
    media/{key[:2]}/{key}.json         sizes and bytes of both (for HTML and enclosures)

A name never names other bytes (the key hashes the original and the processing
version), so files are served with `Cache-Control: public, max-age=31536000,
immutable` and never rewritten; storing an image twice writes nothing. Files are
written atomically by `atomic.write_file`. An image's URL is its 1x rendition's:
`two_x()` and `info()` find the rest from it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dispatch.atomic import write_file
from dispatch.config import Settings
from dispatch.errors import MediaError, PublishError
from dispatch.media.images import Processed, content_key, process

MEDIA_PATH = "media"
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png"}
URL_NAME = re.compile(r"/media/([0-9a-f]{2})/([0-9a-f]{32})-(600|1200)\.(jpg|png)$")


@dataclass(frozen=True)
class StoredImage:
    """What pages, emails and feeds need to know about one stored image."""

    key: str
    url: str  # the 1x (600) rendition
    url_2x: str
    width: int  # of the 1x rendition
    height: int
    content_type: str
    bytes: int  # of the 1x rendition (an enclosure's length)
    bytes_2x: int

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "url": self.url,
            "url_2x": self.url_2x,
            "width": self.width,
            "height": self.height,
            "content_type": self.content_type,
            "bytes": self.bytes,
            "bytes_2x": self.bytes_2x,
        }


class MediaStore:
    def __init__(self, root: Path, base_url: str) -> None:
        self.root = root
        self.prefix = f"{base_url}/{MEDIA_PATH}/"

    @classmethod
    def of(cls, settings: Settings) -> MediaStore:
        return cls(settings.feeds.public_dir / MEDIA_PATH, settings.site.base_url)

    def add(self, name: str, data: bytes, max_bytes: int, max_pixels: int) -> StoredImage:
        """Check, resize and store an image (nothing is written when it is refused); an
        image stored before is found by its content and not processed again."""
        known = self.known(content_key(data)) if len(data) <= max_bytes else None
        if known is not None:
            return known
        processed = process(name, data, max_bytes, max_pixels)
        try:
            return self.save(processed)
        except PublishError as exc:
            raise MediaError(f"{name}: not stored: {exc}") from exc

    def save(self, processed: Processed) -> StoredImage:
        folder = f"{processed.key[:2]}/{processed.key}"
        names = {r.label: f"{folder}-{r.label}.{processed.extension}" for r in processed.renditions}
        for rendition in processed.renditions:
            write_file(self.root / names[rendition.label], rendition.data)
        one, two = processed.renditions
        stored = StoredImage(
            key=processed.key,
            url=self.prefix + names[one.label],
            url_2x=self.prefix + names[two.label],
            width=one.width,
            height=one.height,
            content_type=processed.content_type,
            bytes=len(one.data),
            bytes_2x=len(two.data),
        )
        write_file(self.root / f"{folder}.json", _json(stored))  # last: the image is complete
        return stored

    def known(self, key: str) -> StoredImage | None:
        """The image stored under `key`, if it is complete (its JSON is written last)."""
        return self.info(f"{self.prefix}{key[:2]}/{key}-600.jpg", any_extension=True)

    def info(self, url: str, any_extension: bool = False) -> StoredImage | None:
        """The stored image `url` names (either rendition), None when it is not one of ours."""
        match = URL_NAME.search(url) if url.startswith(self.prefix) else None
        if match is None:
            return None
        try:
            data = json.loads((self.root / match.group(1) / f"{match.group(2)}.json").read_bytes())
        except (OSError, ValueError):
            return None
        base = f"{self.prefix}{match.group(1)}/{match.group(2)}"  # the site may have moved
        extension = EXTENSIONS.get(data.get("content_type"), "")
        if extension != match.group(4) and not any_extension:
            return None
        data |= {"url": f"{base}-600.{extension}", "url_2x": f"{base}-1200.{extension}"}
        return StoredImage(**data)


def two_x(url: str) -> str | None:
    """The 2x rendition of a media URL (None for other URLs)."""
    match = URL_NAME.search(url)
    if match is None or match.group(3) != "600":
        return None
    return url[: match.start(3)] + "1200" + url[match.end(3) :]


def _json(stored: StoredImage) -> bytes:
    return (json.dumps(stored.to_json(), indent=2, sort_keys=True) + "\n").encode()
