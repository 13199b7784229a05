"""`GET /r/<token>`: a tracked link (`campaigns.clicks`). 302 to the link the campaign
recorded for that position; a forged, altered or unknown token gets a 404 page and
never a redirect. No cookie, no referrer passed on, nothing cached."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dispatch.campaigns.clicks import follow
from dispatch.errors import TokenError
from dispatch.tokens import Tokens
from dispatch.web.store import in_store

router = APIRouter(tags=["clicks"])
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@router.get("/r/{token}", include_in_schema=False)
async def click(request: Request, token: str) -> Response:
    settings = request.app.state.settings
    try:
        claim = Tokens(settings.secret_key).verify_click(token)
    except TokenError:
        return _not_found(request)
    url = await in_store(request, follow, settings, claim, request.app.state.clock())
    if url is None:
        return _not_found(request)
    return RedirectResponse(url, status_code=302, headers=HEADERS)


def _not_found(request: Request) -> HTMLResponse:
    response: HTMLResponse = request.app.state.pages.render("not_found", status_code=404)
    response.headers.update(HEADERS)
    return response
