"""Routes: the pages readers browse, server-rendered, no JavaScript.

    GET /                               recent articles (?page=N) and the lists to join
    GET /articles/{slug}                one article; an old slug → 301 to the current URL
    GET /archive                        the lists and how many issues each has sent
    GET /archive/{list}                 a list's sent campaigns, newest first
    GET /archive/{list}/{campaign_key}  one campaign's web version ("view in browser")

Drafts, test sends, unknown slugs and keys are 404s, answered by `not_found`, the
app's handler for every 404 (HTML for pages, JSON under /api/ and /webhooks/).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.store.models import MailingList
from dispatch.web import archive, reading
from dispatch.web.pages import Pages

router = APIRouter()
JSON_PREFIXES = ("/api/", "/webhooks/")
MAX_PAGE = 100_000


def _pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


def _database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def _list_rows(settings: Settings, session: Session) -> list[MailingList]:
    """The configured lists' rows, in config order (lists removed from config are hidden)."""
    by_slug = {row.slug: row for row in session.scalars(select(MailingList))}
    return [by_slug[item.slug] for item in settings.lists if item.slug in by_slug]


@router.get("/", include_in_schema=False)
async def home(request: Request, page: str = "1") -> Response:
    page_number = int(page) if page.isascii() and page.isdigit() and len(page) < 7 else 0
    if not 1 <= page_number <= MAX_PAGE:
        raise HTTPException(status_code=404, detail=f"no page {page[:20]!r}")
    context = await run_in_threadpool(_home_context, request, page_number)
    if page_number > context["listing"].pages:
        raise HTTPException(status_code=404, detail=f"no page {page_number}")
    return _pages(request).render("home", **context)


def _home_context(request: Request, page: int) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    with _database(request).session() as session:
        listing = reading.recent_articles(session, page, request.app.state.clock())
    return {"listing": listing, "lists": settings.lists}


@router.get("/articles/{slug}", include_in_schema=False)
async def article(request: Request, slug: str) -> Response:
    context = await run_in_threadpool(_article_context, request, slug)
    if context is None:
        raise HTTPException(status_code=404, detail=f'no article "{slug}"')
    if isinstance(context, str):
        return RedirectResponse(context, status_code=301)
    return _pages(request).render("article", **context)


def _article_context(request: Request, slug: str) -> dict[str, Any] | str | None:
    settings: Settings = request.app.state.settings
    urls = _pages(request).urls
    with _database(request).session() as session:
        found = reading.find_published(session, slug, request.app.state.clock())
        if found is None:
            return None
        url = urls.article(found.article.slug)
        if not found.current:
            return url
        return {
            "article": found.article,
            "url": url,
            "canonical": found.article.canonical_url or url,
            "standfirst": reading.standfirst(found.article),
            "image": reading.feature_image(settings, found.article),
            "feeds": reading.article_feeds(settings, found.article),
            "lists": reading.carrying_lists(settings, found.article),
        }


@router.get("/archive", include_in_schema=False)
async def archive_index(request: Request) -> Response:
    context = await run_in_threadpool(_archive_index_context, request)
    return _pages(request).render("archive_index", **context)


def _archive_index_context(request: Request) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    with _database(request).session() as session:
        rows = _list_rows(settings, session)
        return {"lists": rows, "counts": archive.campaign_counts(session)}


@router.get("/archive/{list_slug}", include_in_schema=False)
async def archive_list(request: Request, list_slug: str) -> Response:
    context = await run_in_threadpool(_archive_list_context, request, list_slug)
    if context is None:
        raise HTTPException(status_code=404, detail=f'no list "{list_slug}"')
    return _pages(request).render("archive_list", **context)


def _archive_list_context(request: Request, list_slug: str) -> dict[str, Any] | None:
    settings: Settings = request.app.state.settings
    if list_slug not in {item.slug for item in settings.lists}:
        return None
    with _database(request).session() as session:
        mailing_list = archive.find_list(session, list_slug)
        if mailing_list is None:
            return None
        campaigns = archive.public_campaigns(session, mailing_list.id)
        return {"mailing_list": mailing_list, "campaigns": campaigns}


@router.get("/archive/{list_slug}/{key}", include_in_schema=False)
async def archive_campaign(request: Request, list_slug: str, key: str) -> Response:
    context = await run_in_threadpool(_campaign_context, request, list_slug, key)
    if context is None:
        raise HTTPException(status_code=404, detail=f'no issue "{key}" of "{list_slug}"')
    return _pages(request).render("archive_campaign", **context)


def _campaign_context(request: Request, list_slug: str, key: str) -> dict[str, Any] | None:
    urls = _pages(request).urls
    with _database(request).session() as session:
        mailing_list = archive.find_list(session, list_slug)
        campaign = archive.find_campaign(session, mailing_list, key) if mailing_list else None
        copy = archive.public_copy(urls, campaign) if campaign else None
        if copy is None or mailing_list is None:
            return None
        return {
            "mailing_list": mailing_list,
            "copy": copy,
            "url": urls.archive(list_slug, key),
        }


async def not_found(request: Request, exc: Exception) -> Response:
    """The app's 404 handler: the site's page for readers, JSON for machines."""
    if not isinstance(exc, StarletteHTTPException):
        exc = StarletteHTTPException(status_code=404)
    if request.url.path.startswith(JSON_PREFIXES):
        return await http_exception_handler(request, exc)
    return _pages(request).render("not_found", status_code=404)
