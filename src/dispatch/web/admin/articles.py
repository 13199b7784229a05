"""Articles: list and search, write and edit (Markdown with a preview, images dropped in,
a publication time), upload files to import, publish, unpublish, schedule, unschedule,
delete. Times are shown and typed in the site's time zone. The work is
`article_editor`, `article_form` and `ingest`; conflicts are `article_conflicts`."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from dispatch.auth.deps import CurrentEditor, current_editor
from dispatch.errors import IngestError
from dispatch.ingest.articles import (
    delete_article,
    get_article,
    publish,
    unpublish,
    unschedule,
)
from dispatch.store.models import Article, ArticleStatus
from dispatch.web.admin import article_conflicts
from dispatch.web.admin.article_editor import (
    Upload,
    import_uploads,
    preview_html,
    save_article,
)
from dispatch.web.admin.article_form import FIELDS, ArticleForm
from dispatch.web.admin.common import (
    AdminProblem,
    Paging,
    field,
    in_store,
    notice_of,
    see_other,
    store,
)
from dispatch.web.admin_render import ADMIN_HEADERS, render_admin

router = APIRouter(prefix="/admin/articles", include_in_schema=False)


@dataclass(frozen=True)
class Found:
    rows: list[Article]
    total: int


def search(session: Session, q: str, status: str, offset: int, limit: int) -> Found:
    query = select(Article)
    if q:
        pattern = f"%{q.lower()}%"
        query = query.where(
            or_(func.lower(Article.title).like(pattern), func.lower(Article.slug).like(pattern))
        )
    if status in ("draft", "published", "scheduled"):
        query = query.where(Article.status == ArticleStatus(status))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    ordered = query.order_by(
        Article.published_at.desc().nulls_last(), Article.created_at.desc(), Article.id.desc()
    )
    return Found(list(session.scalars(ordered.offset(offset).limit(limit))), total)


@router.get("")
async def list_page(request: Request, editor: CurrentEditor = Depends(current_editor)) -> Response:
    q = request.query_params.get("q", "").strip()
    status = request.query_params.get("status", "")
    first: Found = await store(request, search, q, status, 0, 0)
    paging = Paging.of(request, first.total)
    found: Found = await store(request, search, q, status, paging.offset, paging.size)
    conflicts = await store(request, article_conflicts.count)
    return render_admin(
        request,
        "articles",
        editor=editor,
        articles=found.rows,
        conflicts=conflicts,
        q=q,
        status=status,
        paging=paging,
        notice=notice_of(request),
    )


@router.get("/new")
async def new_page(request: Request, editor: CurrentEditor = Depends(current_editor)) -> Response:
    return _editor(request, editor, ArticleForm(), None)


@router.post("/new")
async def create(request: Request, editor: CurrentEditor = Depends(current_editor)) -> Response:
    return await _submit(request, editor, None)


@router.get("/{slug}/edit")
async def edit_page(
    request: Request, slug: str, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    zone = ZoneInfo(request.app.state.settings.site.timezone)
    form = await store(request, lambda s: ArticleForm.of(get_article(s, slug), zone))
    return _editor(request, editor, form, slug, notice=notice_of(request))


@router.post("/{slug}/edit")
async def update(
    request: Request, slug: str, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    await store(request, get_article, slug)  # 404 before anything else
    return await _submit(request, editor, slug)


@router.post("/preview")
async def preview_fragment(
    request: Request, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    """The preview pane alone (for the editor's script)."""
    form = _form(await request.form())
    try:
        html = Markup(preview_html(form, request.app.state.settings))
    except IngestError as exc:
        return HTMLResponse(f'<p class="alert">{Markup.escape(exc.reason)}</p>', 200, ADMIN_HEADERS)
    return HTMLResponse(str(html), headers=ADMIN_HEADERS)


async def _submit(request: Request, editor: CurrentEditor, slug: str | None) -> Response:
    form = _form(await request.form())
    settings, clock = request.app.state.settings, request.app.state.clock
    action = field(await request.form(), "action")
    try:
        if action == "preview":
            preview = Markup(preview_html(form, settings))
            return _editor(request, editor, form, slug, preview=preview)
        done = await in_store(request, save_article, settings, form, slug, clock())
    except IngestError as exc:
        return _editor(request, editor, form, slug, error=exc.reason, status=400)
    return see_other(f"/admin/articles/{done.slug}/edit", "saved")


def _editor(
    request: Request,
    editor: CurrentEditor,
    form: ArticleForm,
    slug: str | None,
    status: int = 200,
    **context: object,
) -> Response:
    context.setdefault("preview", None)
    context.setdefault("error", None)
    context.setdefault("notice", None)
    settings = request.app.state.settings
    return render_admin(
        request,
        "article_edit",
        status,
        editor=editor,
        form=form,
        slug=slug,
        lists=settings.lists,
        zone=settings.site.timezone,
        **context,
    )


def _form(data: FormData) -> ArticleForm:
    values: dict[str, object] = {name: field(data, name) for name in FIELDS}
    values["body"] = field(data, "body").replace("\r\n", "\n")
    values["send_to"] = [v for v in data.getlist("send_to") if isinstance(v, str) and v]
    return ArticleForm(**values)  # type: ignore[arg-type]


@router.post("/{slug}/{change}")
async def change(
    request: Request, slug: str, change: str, editor: CurrentEditor = Depends(current_editor)
) -> Response:
    actions = {
        "publish": publish,
        "unpublish": unpublish,
        "unschedule": unschedule,
        "delete": delete_article,
    }
    if change not in actions:
        raise AdminProblem(404, f"no article action {change!r}")
    await store(request, actions[change], slug, request.app.state.clock())
    notice = {
        "publish": "published",
        "unpublish": "unpublished",
        "unschedule": "unscheduled",
        "delete": "deleted",
    }[change]
    target = "/admin/articles" if change == "delete" else f"/admin/articles/{slug}/edit"
    return see_other(target, notice)


@router.post("/import")
async def upload(request: Request, editor: CurrentEditor = Depends(current_editor)) -> Response:
    form = await request.form()
    files = [item for item in form.getlist("files") if isinstance(item, UploadFile)]
    uploads = []
    state = request.app.state
    limit = state.settings.ingest.max_file_bytes
    for item in files:  # a byte past the limit is enough for the import to refuse it
        uploads.append(Upload(item.filename or "upload", await item.read(limit + 1)))
        await item.close()
    report = await run_in_threadpool(
        import_uploads, state.database, state.settings, uploads, state.clock
    )
    status = 200 if report.ok and uploads else 400
    return render_admin(
        request, "article_import", status, editor=editor, report=report, count=len(uploads)
    )
