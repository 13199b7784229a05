"""`/api/articles`: list and search, get, create, update, delete, publish, unpublish,
schedule (`POST …/schedule {"at"}`, again to move it) and unschedule (`DELETE …/schedule`).

An article is named by its id or its current slug (a former slug answers 404 saying
what it was renamed to). Creating and updating go through the file importer's path
(`article_input`), so a payload is checked, sanitised and slugged like a file.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from dispatch.auth.deps import api_principal
from dispatch.errors import NotFound
from dispatch.ingest.articles import (
    delete_article,
    get_article,
    publish,
    schedule,
    unpublish,
    unschedule,
)
from dispatch.ingest.importer import Action
from dispatch.store.models import Article, ArticleStatus
from dispatch.urls import Urls
from dispatch.web.api import article_input
from dispatch.web.api.context import in_store, now, settings_of
from dispatch.web.api.errors import responses
from dispatch.web.api.pagination import Page, PageParams, page_params, paginate
from dispatch.web.api.schemas import (
    NO_NUL,
    ArticleCreate,
    ArticleOut,
    ArticleSaved,
    ArticleSummary,
    ArticleUpdate,
    ScheduleIn,
)

MAX_ID = 2**31 - 1
router = APIRouter(prefix="/articles", tags=["articles"])
READ = Depends(api_principal("articles:read"))
WRITE = Depends(api_principal("articles:write"))
Ref = Path(pattern=NO_NUL, max_length=200, description="The article's id, or its current slug.")


def find(session: Session, ref: str) -> Article:
    if ref.isascii() and ref.isdigit() and int(ref) <= MAX_ID:
        article = session.get(Article, int(ref))
        if article is not None:
            return article
    try:
        return get_article(session, ref)
    except NotFound as exc:
        if "renamed" in str(exc):  # a former slug: say what it is called now
            raise
        raise NotFound(f'no article "{ref}" (by id or slug)') from None


def summary(article: Article, urls: Urls) -> ArticleSummary:
    return ArticleSummary(**_common(article, urls))


def detail(article: Article, urls: Urls) -> ArticleOut:
    return ArticleOut(**_detail(article, urls))


def saved_detail(article: Article, urls: Urls, action: Action) -> ArticleSaved:
    return ArticleSaved(**_detail(article, urls), action=action.value)


def _detail(article: Article, urls: Urls) -> dict[str, object]:
    return _common(article, urls) | {
        "body_markdown": article.body_markdown,
        "body_html": article.body_html,
        "body_text": article.body_text,
        "former_slugs": sorted(s.slug for s in article.old_slugs),
    }


def _common(article: Article, urls: Urls) -> dict[str, object]:
    names = ArticleSummary.model_fields.keys() - {"url"}
    return {name: getattr(article, name) for name in names} | {"url": urls.article(article.slug)}


def _urls(request: Request) -> Urls:
    return Urls(settings_of(request).site.base_url)


@router.get("", response_model=Page[ArticleSummary], dependencies=[READ])
async def list_articles(
    request: Request,
    params: PageParams = Depends(page_params),
    q: str | None = Query(
        None, max_length=200, pattern=NO_NUL, description="Words in the title, summary or slug."
    ),
    status: ArticleStatus | None = Query(None, description="Only drafts or only published."),
    section: str | None = Query(None, max_length=100, pattern=NO_NUL),
) -> Page[ArticleSummary]:
    """Articles, newest first (drafts never published come last)."""
    query = select(Article).order_by(
        Article.published_at.desc().nulls_last(), Article.created_at.desc(), Article.id.desc()
    )
    if q and q.strip():
        words = q.strip()
        query = query.where(
            or_(
                Article.title.icontains(words, autoescape=True),
                Article.summary.icontains(words, autoescape=True),
                Article.slug.icontains(words, autoescape=True),
            )
        )
    if status is not None:
        query = query.where(Article.status == status)
    if section is not None:
        query = query.where(Article.section == section)
    urls = _urls(request)
    return await in_store(request, paginate, query, params, lambda a: summary(a, urls))


@router.get("/{ref}", response_model=ArticleOut, dependencies=[READ], responses=responses(404))
async def get_one(request: Request, ref: str = Ref) -> ArticleOut:
    urls = _urls(request)
    return await in_store(request, lambda s: detail(find(s, ref), urls))


@router.post(
    "",
    response_model=ArticleSaved,
    status_code=201,
    dependencies=[WRITE],
    responses={200: {"model": ArticleSaved, "description": "Updated (known external_id)"}}
    | responses(413),
)
async def create(request: Request, response: Response, payload: ArticleCreate) -> ArticleSaved:
    """Create an article (201); with the `external_id` of one created before, update it
    (200). Body as Markdown or HTML; fields as an article file's front matter."""
    settings, urls, when = settings_of(request), _urls(request), now(request)
    given = article_input.new_payload(payload)

    def work(session: Session) -> ArticleSaved:
        saved = article_input.save(session, settings, given, when, source_id=payload.external_id)
        return saved_detail(find(session, saved.slug), urls, saved.action)

    saved = await in_store(request, work)
    if saved.action != "created":
        response.status_code = 200
    return saved


@router.patch(
    "/{ref}", response_model=ArticleSaved, dependencies=[WRITE], responses=responses(404, 413)
)
async def update(request: Request, payload: ArticleUpdate, ref: str = Ref) -> ArticleSaved:
    """Change some fields; the body is re-imported, so the same rules apply as on create."""
    settings, urls, when = settings_of(request), _urls(request), now(request)

    def work(session: Session) -> ArticleSaved:
        article = find(session, ref)
        given = article_input.update_payload(article, payload)
        saved = article_input.save(session, settings, given, when, article=article)
        return saved_detail(find(session, saved.slug), urls, saved.action)

    return await in_store(request, work)


@router.delete("/{ref}", status_code=204, dependencies=[WRITE], responses=responses(404))
async def delete(request: Request, ref: str = Ref) -> Response:
    when = now(request)
    await in_store(request, lambda s: delete_article(s, find(s, ref).slug, when))
    return Response(status_code=204)


@router.post(
    "/{ref}/schedule", response_model=ArticleOut, dependencies=[WRITE], responses=responses(404)
)
async def schedule_one(request: Request, payload: ScheduleIn, ref: str = Ref) -> ArticleOut:
    """Publish it at `at` (a future time with its offset); again to move the time. Until
    then it is in no feed, page or digest; a draft or a scheduled article may be."""
    urls, when = _urls(request), now(request)

    def work(session: Session) -> ArticleOut:
        return detail(schedule(session, find(session, ref).slug, payload.at, when), urls)

    return await in_store(request, work, field="body.at")


@router.delete(
    "/{ref}/schedule", response_model=ArticleOut, dependencies=[WRITE], responses=responses(404)
)
async def unschedule_one(request: Request, ref: str = Ref) -> ArticleOut:
    """A scheduled article back to draft."""
    return await _change(request, ref, unschedule)


@router.post(
    "/{ref}/publish", response_model=ArticleOut, dependencies=[WRITE], responses=responses(404)
)
async def publish_one(request: Request, ref: str = Ref) -> ArticleOut:
    """Make it public; it keeps its first publication time."""
    return await _change(request, ref, publish)


@router.post(
    "/{ref}/unpublish", response_model=ArticleOut, dependencies=[WRITE], responses=responses(404)
)
async def unpublish_one(request: Request, ref: str = Ref) -> ArticleOut:
    """Back to draft."""
    return await _change(request, ref, unpublish)


async def _change(
    request: Request, ref: str, change: Callable[[Session, str, datetime], Article]
) -> ArticleOut:
    urls, when = _urls(request), now(request)

    def work(session: Session) -> ArticleOut:
        article = change(session, find(session, ref).slug, when)
        return detail(article, urls)

    return await in_store(request, work)
