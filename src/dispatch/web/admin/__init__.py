"""The editors' admin under `/admin`: small routers, one per page group, server-rendered
from `templates/admin/` with `admin_render.render_admin` (sign-in, sessions, CSRF and
roles are `web.admin_auth` and `auth.deps`).

`install(app)` mounts them; sends go through the app's executor (`web.sending`).
"""

from __future__ import annotations

from fastapi import FastAPI

from dispatch.web.admin import (
    article_conflicts,
    articles,
    campaign_actions,
    campaigns,
    dashboard,
    feeds,
    imports,
    media,
    outbox,
    subscribers,
    tokens,
)
from dispatch.web.admin.common import AdminProblem, show_problem

ROUTERS = (
    dashboard.router,
    article_conflicts.router,
    articles.router,
    media.router,
    imports.router,
    subscribers.router,
    campaigns.router,
    campaign_actions.router,
    outbox.router,
    feeds.router,
    tokens.router,
)


def install(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router)
    app.add_exception_handler(AdminProblem, show_problem)


__all__ = ["install"]
