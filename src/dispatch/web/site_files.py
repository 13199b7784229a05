"""The files every site is asked for: `/favicon.ico`, `/robots.txt`, `/sitemap.xml`.

- The favicon is drawn once when the app is built (Pillow): the title's first letter,
  white on `branding.accent_color`, at 16, 32 and 48 px in one ICO, cached for a day.
- The sitemap lists the home page, the archive and every article live now
  (`dispatch.visibility`: drafts and articles scheduled for later are never in it),
  with its last change; at most the 50,000 newest (the sitemap protocol's limit).
- robots.txt allows everything but `/admin` and `/api`, and names the sitemap.
"""

from __future__ import annotations

import io
from datetime import datetime
from xml.sax.saxutils import escape

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select

from dispatch.config import Settings
from dispatch.store.models import Article
from dispatch.urls import Urls
from dispatch.visibility import is_live

router = APIRouter(include_in_schema=False)
SITEMAP_LIMIT = 50_000
ICON_SIZES = ((16, 16), (32, 32), (48, 48))


def favicon_bytes(settings: Settings) -> bytes:
    """A square of the accent colour with the title's first letter, as an ICO."""
    size = 96
    image = Image.new("RGBA", (size, size), settings.branding.accent_color)
    letter = (settings.site.title.strip()[:1] or "D").upper()
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=64)
    box = draw.textbbox((0, 0), letter, font=font)
    x = (size - (box[2] - box[0])) / 2 - box[0]
    y = (size - (box[3] - box[1])) / 2 - box[1]
    draw.text((x, y), letter, fill="white", font=font)
    buffer = io.BytesIO()
    image.save(buffer, "ICO", sizes=list(ICON_SIZES))
    return buffer.getvalue()


@router.get("/favicon.ico")
async def favicon(request: Request) -> Response:
    icon: bytes = request.app.state.favicon
    return Response(
        icon, media_type="image/x-icon", headers={"Cache-Control": "public, max-age=86400"}
    )


@router.get("/robots.txt")
async def robots(request: Request) -> Response:
    base = request.app.state.settings.site.base_url
    body = f"User-agent: *\nDisallow: /admin\nDisallow: /api\n\nSitemap: {base}/sitemap.xml\n"
    return Response(body, media_type="text/plain; charset=utf-8")


@router.get("/sitemap.xml")
async def sitemap(request: Request) -> Response:
    body = await run_in_threadpool(_sitemap, request)
    return Response(body, media_type="application/xml; charset=utf-8")


def _sitemap(request: Request) -> bytes:
    settings: Settings = request.app.state.settings
    now: datetime = request.app.state.clock()
    urls = Urls(settings.site.base_url)
    query = (
        select(Article.slug, Article.updated_at, Article.published_at)
        .where(is_live(now))
        .order_by(Article.published_at.desc(), Article.id.desc())
        .limit(SITEMAP_LIMIT)
    )
    with request.app.state.database.session() as session:
        rows = session.execute(query).all()
    entries = [_url(urls.home()), _url(f"{settings.site.base_url}/archive")]
    for slug, updated, published in rows:
        changed = max(updated, published) if published else updated
        entries.append(_url(urls.article(slug), min(changed, now)))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        + "".join(entries)
        + "</urlset>\n"
    ).encode()


def _url(location: str, changed: datetime | None = None) -> str:
    modified = f"<lastmod>{changed.replace(microsecond=0).isoformat()}</lastmod>" if changed else ""
    return f"  <url><loc>{escape(location)}</loc>{modified}</url>\n"
