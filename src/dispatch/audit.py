"""The audit log: who did what to what, and when (`audit_log`).

One row per editor action. The web app records every admin and API request that
changed something (and the CSV exports) in one place, `web.audit`, after it succeeded;
the login routes record logins, failed logins and logouts themselves. `describe` turns
a request into an action name and its target with a table, not per-route code, so a new
route is audited without touching it (as "POST /admin/…" until it gets a name here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.store.models import AuditEntry

TARGET_MAX, DETAIL_MAX = 300, 2000


@dataclass(frozen=True)
class Actor:
    """Who acted: an editor (`editor_id`, their address), an API token, or the CLI."""

    label: str  # "ada@example.com", "api:deploy-bot", "cli"
    editor_id: int | None = None
    ip: str = ""


SYSTEM = Actor("system")  # a change made by code that did not say who asked for it
CLI = Actor("cli")  # the command line (whoever can run it owns the installation)


@dataclass(frozen=True)
class Action:
    name: str  # "campaign.send", "subscriber.delete", …
    target: str  # "campaign 12", "list morning-briefing", …


# (method, path pattern) → (action, target); the first that matches wins.
ROUTES: tuple[tuple[str, re.Pattern[str], str, str], ...] = tuple(
    (method, re.compile(pattern), name, target)
    for method, pattern, name, target in (
        (
            "POST",
            r"/admin/campaigns/(\d+)/(send|pause|resume|cancel|delete|test|schedule)",
            r"campaign.\2",
            r"campaign \1",
        ),
        ("POST", r"/admin/campaigns/(\d+)/retry-failed", "campaign.retry", r"campaign \1"),
        ("POST", r"/admin/campaigns/new", "campaign.create", ""),
        (
            "POST",
            r"/api/campaigns/(\d+)/(send|pause|resume|cancel|test|schedule)",
            r"campaign.\2",
            r"campaign \1",
        ),
        ("POST", r"/api/campaigns/(\d+)/retry-failed", "campaign.retry", r"campaign \1"),
        ("DELETE", r"/api/campaigns/(\d+)", "campaign.delete", r"campaign \1"),
        ("POST", r"/api/campaigns", "campaign.create", ""),
        ("GET", r"/admin/lists/([^/]+)/export\.csv", "subscribers.export", r"list \1"),
        ("POST", r"/admin/lists/([^/]+)/import", "subscribers.import", r"list \1"),
        ("POST", r"/admin/lists/([^/]+)/add", "subscriber.add", r"list \1"),
        ("POST", r"/admin/subscribers/delete", "subscriber.delete", ""),
        ("POST", r"/admin/subscribers/suppress", "subscriber.suppress", ""),
        ("DELETE", r"/api/subscribers/([^/]+)", "subscriber.delete", r"subscriber \1"),
        ("POST", r"/api/subscribers", "subscriber.create", ""),
        ("PUT", r"/api/subscribers/([^/]+)/lists/([^/]+)", "subscriber.join", r"list \2"),
        ("DELETE", r"/api/subscribers/([^/]+)/lists/([^/]+)", "subscriber.leave", r"list \2"),
        ("POST", r"/admin/tokens", "token.create", ""),
        ("POST", r"/admin/tokens/revoke", "token.revoke", ""),
        ("POST", r"/admin/articles/new", "article.create", ""),
        ("POST", r"/admin/articles/([^/]+)/edit", "article.edit", r"article \1"),
        ("DELETE", r"/api/articles/([^/]+)", "article.delete", r"article \1"),
        ("POST", r"/admin/feeds/rebuild", "feeds.rebuild", ""),
    )
)
AUDITED_READS = frozenset({"subscribers.export"})


def describe(method: str, path: str) -> Action:
    """The action a request is, named by `ROUTES`, else by its method and path."""
    for wanted, pattern, name, target in ROUTES:
        if wanted == method:
            found = pattern.fullmatch(path)
            if found:
                return Action(found.expand(name), found.expand(target) if target else "")
    return Action(f"{method} {path}"[:50], path[:TARGET_MAX])


SELF_RECORDED = frozenset({"/admin/login", "/admin/logout"})


def is_audited(method: str, path: str) -> bool:
    """Changes are always recorded; reads only when they hand data out (exports)."""
    if path in SELF_RECORDED:
        return False
    if method not in ("GET", "HEAD", "OPTIONS"):
        return True
    return method == "GET" and describe(method, path).name in AUDITED_READS


def record(
    session: Session,
    actor: Actor,
    action: str,
    now: datetime,
    *,
    target: str = "",
    detail: str = "",
) -> AuditEntry:
    """Add one entry (the caller commits)."""
    entry = AuditEntry(
        at=now,
        editor_id=actor.editor_id,
        actor=actor.label[:320],
        action=action[:50],
        target=target[:TARGET_MAX],
        detail=detail[:DETAIL_MAX],
        ip=actor.ip[:64],
    )
    session.add(entry)
    return entry


def recent(
    session: Session, *, limit: int = 100, action: str | None = None, actor: str | None = None
) -> list[AuditEntry]:
    """The newest entries first, optionally of one action (or prefix "campaign.") or actor."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action:
        query = query.where(
            AuditEntry.action.startswith(action)
            if action.endswith(".")
            else AuditEntry.action == action
        )
    if actor:
        query = query.where(AuditEntry.actor == actor)
    return list(session.scalars(query))
