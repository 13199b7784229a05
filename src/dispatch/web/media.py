"""`GET|HEAD /media/…`: stored images (`dispatch.media.store`), cached for good.

A media file's name is its content's hash, so it never changes: answers carry
`Cache-Control: public, max-age=31536000, immutable` (and starlette's ETag and
Last-Modified). nginx can serve `public_dir/media/` the same way (docs/deploy.md).
Only image renditions are served; the JSON beside them stays private to Dispatch.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from dispatch.config import Settings
from dispatch.media.store import MEDIA_PATH

IMMUTABLE = "public, max-age=31536000, immutable"
SERVED = (".jpg", ".png")


class MediaFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        if not path.endswith(SERVED):
            raise HTTPException(status_code=404)
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = IMMUTABLE
        return response


def install(app: FastAPI, settings: Settings) -> None:
    folder = settings.feeds.public_dir / MEDIA_PATH
    files: Any = MediaFiles(directory=folder, check_dir=False)
    app.mount(f"/{MEDIA_PATH}", files, name="media")
