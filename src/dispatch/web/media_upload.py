"""An image upload (admin or API) → the media store, streamed to a bounded buffer.

The part is read in chunks and refused as soon as it passes `media.max_bytes`, so a
huge upload never sits in memory whole; Pillow then checks and resizes it (in the
threadpool). Alt text is required where an editor inserts the image (the admin); the
API takes it optionally, for the Markdown it suggests.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from dispatch.config import Settings
from dispatch.errors import MediaError
from dispatch.media.store import MediaStore, StoredImage

CHUNK = 256 * 1024
ALT_CHARS = 500


@dataclass(frozen=True)
class Uploaded:
    image: StoredImage
    alt: str

    def markdown(self) -> str:
        alt = self.alt.replace("[", "(").replace("]", ")")
        return f"![{alt}]({self.image.url})"

    def to_json(self) -> dict[str, object]:
        return {**self.image.to_json(), "alt": self.alt, "markdown": self.markdown()}


def clean_alt(alt: str, required: bool) -> str:
    text = " ".join(alt.split())
    if required and not text:
        raise MediaError("alt text is required: describe the image for people who cannot see it")
    if len(text) > ALT_CHARS:
        raise MediaError(f"alt text is {len(text)} characters, over the {ALT_CHARS} limit")
    return text


async def store_upload(
    settings: Settings, upload: UploadFile | None, alt: str, *, alt_required: bool
) -> Uploaded:
    """Check and store one uploaded image; MediaError says what is wrong."""
    if upload is None:
        raise MediaError("no image: send the file in the `file` field")
    text = clean_alt(alt, alt_required)
    name = upload.filename or "upload"
    limit = settings.media.max_bytes
    data = bytearray()
    while chunk := await upload.read(CHUNK):
        data += chunk
        if len(data) > limit:
            raise MediaError(f"{name}: over the {limit:,}-byte limit")
    store = MediaStore.of(settings)
    image = await run_in_threadpool(store.add, name, bytes(data), limit, settings.media.max_pixels)
    return Uploaded(image, text)
