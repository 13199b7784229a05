"""`POST /api/media`: an image (multipart field `file`, optional `alt`) → the media store.

The answer gives the URLs of its 600 px (1x, email) and 1200 px (2x) renditions, their
sizes, and the Markdown to put in an article's `body_markdown`; its `url` is also what
an article's `image` (feature image) takes. Images are checked and resized like the
admin's: a file that is not an image, or over `[media] max_bytes` / `max_pixels`, is 422.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from pydantic import BaseModel

from dispatch.auth.deps import api_principal
from dispatch.errors import MediaError
from dispatch.web.api.context import settings_of
from dispatch.web.api.errors import ApiProblem, responses
from dispatch.web.media_upload import store_upload

router = APIRouter(prefix="/media", tags=["media"])
WRITE = Depends(api_principal("articles:write"))


class MediaOut(BaseModel):
    key: str
    url: str
    url_2x: str
    width: int
    height: int
    content_type: str
    bytes: int
    bytes_2x: int
    alt: str
    markdown: str


@router.post(
    "", response_model=MediaOut, status_code=201, dependencies=[WRITE], responses=responses(413)
)
async def upload(
    request: Request,
    file: UploadFile = File(description="A JPEG, PNG, GIF or WebP image."),
    alt: str = Form("", max_length=500, description="Alt text, used in `markdown`."),
) -> MediaOut:
    """Store an image, resized to 600 px and 1200 px wide."""
    try:
        stored = await store_upload(settings_of(request), file, alt, alt_required=False)
    except MediaError as exc:
        raise ApiProblem(422, str(exc), "body.file") from None
    finally:
        await file.close()
    return MediaOut(**stored.to_json())  # type: ignore[arg-type]
