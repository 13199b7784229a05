"""API tokens (admins only): the list, create one (shown once, on the answer to the
POST, never in a URL), revoke one. The work is `auth.tokens`, as for `dispatch tokens`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from dispatch.auth.deps import CurrentEditor, require_admin
from dispatch.auth.tokens import SCOPES, create_token, list_tokens, revoke_token
from dispatch.errors import AccountError
from dispatch.store.models import ApiToken
from dispatch.web.admin.common import field, in_store, notice_of, see_other, store
from dispatch.web.admin_render import render_admin

router = APIRouter(prefix="/admin/tokens", include_in_schema=False)


def _page(
    request: Request,
    editor: CurrentEditor,
    tokens: list[ApiToken],
    status: int = 200,
    **more: object,
) -> Response:
    more.setdefault("error", None)
    more.setdefault("issued", None)
    more.setdefault("token_name", "")
    more.setdefault("chosen", [])
    return render_admin(
        request,
        "tokens",
        status,
        editor=editor,
        tokens=tokens,
        scopes=SCOPES,
        notice=notice_of(request),
        **more,
    )


@router.get("")
async def tokens_page(request: Request, editor: CurrentEditor = Depends(require_admin)) -> Response:
    return _page(request, editor, await store(request, list_tokens))


@router.post("")
async def create(request: Request, editor: CurrentEditor = Depends(require_admin)) -> Response:
    form = await request.form()
    name = field(form, "name")
    chosen = [value for value in form.getlist("scopes") if isinstance(value, str)]
    clock = request.app.state.clock

    def work(session: Session) -> str:
        return create_token(session, name, chosen, created_by=editor.id, clock=clock).token

    try:
        token = await in_store(request, work)
    except AccountError as exc:
        tokens = await store(request, list_tokens)
        return _page(request, editor, tokens, 400, error=str(exc), token_name=name, chosen=chosen)
    tokens = await store(request, list_tokens)
    return _page(request, editor, tokens, issued=token, issued_name=name.strip())


@router.post("/revoke")
async def revoke(request: Request, editor: CurrentEditor = Depends(require_admin)) -> Response:
    name = field(await request.form(), "name")
    clock = request.app.state.clock
    await store(request, lambda session: revoke_token(session, name, clock=clock))
    return see_other("/admin/tokens", "revoked")
