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
    audit_log,
    campaign_actions,
    campaigns,
    dashboard,
    digest_send,
    feeds,
    imports,
    list_settings,
    media,
    outbox,
    segments,
    stats,
    subscriber_page,
    subscribers,
    tokens,
)
from dispatch.web.admin.common import AdminProblem, show_problem

ROUTERS = (
    dashboard.router,
    article_conflicts.router,
    articles.router,
    media.router,
    list_settings.router,
    imports.router,
    subscribers.router,
    segments.router,
    subscriber_page.router,
    digest_send.router,
    campaigns.router,
    campaign_actions.router,
    outbox.router,
    feeds.router,
    tokens.router,
    audit_log.router,
    stats.router,
)


def install(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router)
    app.add_exception_handler(AdminProblem, show_problem)


__all__ = ["install"]
