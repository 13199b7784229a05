"""The welcome series as editors see it: each step with how many people got it, and
which steps each person got (the admin's list page, `dispatch lists show`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.store.models import MailingList, Subscriber, WelcomeSend, WelcomeStep


@dataclass(frozen=True)
class StepSummary:
    key: str
    after: str  # "" for a step no longer configured
    content: str  # "template welcome", "article getting-started"
    configured: bool
    given: int  # people it was given to (sent, or on its way)
    first_seen: datetime | None
    latest_campaign: int | None = None  # the step's last campaign (its results)


def series_summary(session: Session, settings: Settings, list_slug: str) -> list[StepSummary]:
    """Configured steps in order, then steps people got that are no longer configured."""
    list_id = session.scalar(select(MailingList.id).where(MailingList.slug == list_slug))
    counted = session.execute(
        select(WelcomeSend.step_key, func.count(), func.max(WelcomeSend.campaign_id))
        .where(WelcomeSend.list_id == list_id)
        .group_by(WelcomeSend.step_key)
    ).all()
    given = {key: count for key, count, _ in counted}
    latest = {key: campaign for key, _, campaign in counted}
    seen = dict(
        session.execute(
            select(WelcomeStep.key, WelcomeStep.first_seen_at).where(WelcomeStep.list_id == list_id)
        ).all()
    )
    item = settings.list(list_slug)
    steps = [
        StepSummary(
            step.key,
            step.after,
            f"template {step.template}" if step.template else f"article {step.article}",
            True,
            int(given.get(step.key, 0)),
            seen.get(step.key),
            latest.get(step.key),
        )
        for step in item.welcome_steps
    ]
    configured = {step.key for step in steps}
    for key in sorted(set(given) - configured):
        steps.append(
            StepSummary(key, "", "", False, int(given[key]), seen.get(key), latest.get(key))
        )
    return steps


def steps_given(session: Session, list_slug: str, emails: Sequence[str]) -> dict[str, list[str]]:
    """The step keys each of these people (by stored address) got on the list, in order."""
    if not emails:
        return {}
    rows = session.execute(
        select(Subscriber.email, WelcomeSend.step_key)
        .join(Subscriber, Subscriber.id == WelcomeSend.subscriber_id)
        .join(MailingList, MailingList.id == WelcomeSend.list_id)
        .where(MailingList.slug == list_slug, Subscriber.email.in_(list(emails)))
        .order_by(WelcomeSend.created_at, WelcomeSend.id)
    )
    found: dict[str, list[str]] = {}
    for email, key in rows:
        found.setdefault(email, []).append(key)
    return found
