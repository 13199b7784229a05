"""What a campaign says: its `PreparedEmail`, rendered from the campaign's row.

Digests and one-off articles use the built-in renderer; a one-off note (a subject and a
Markdown body written by an editor) is rendered with markdown-it-py, sanitised like any
article body, and laid out by the `email/note.*` templates.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.errors import CampaignError
from dispatch.ingest.markdown import renderer as markdown_renderer
from dispatch.ingest.sanitize import sanitize_html
from dispatch.ingest.text import html_to_text, trim
from dispatch.render.email import PREHEADER_CHARS, EmailRenderer
from dispatch.render.mail_text import mail_text
from dispatch.render.merge_tags import check_subject, to_slots, with_defaults
from dispatch.render.prepared import PreparedEmail
from dispatch.render.slots import SlotRegistry
from dispatch.store.models import Article, Campaign, CampaignKind

TEST_PREFIX = "[TEST] "


class CampaignRenderer(EmailRenderer):
    """`EmailRenderer` plus one-off notes."""

    def note(self, list_slug: str, subject: str, body_markdown: str, key: str) -> PreparedEmail:
        """The note; its merge tags (`render.merge_tags`) are filled per recipient."""
        item = self.settings.list(list_slug)
        check_subject(subject)
        html = sanitize_html(markdown_renderer().render(body_markdown), self.urls.home())
        subject = " ".join(subject.split())
        preheader = trim(" ".join(with_defaults(html_to_text(html)).split()), PREHEADER_CHARS)

        def personalise(registry: SlotRegistry) -> dict[str, object]:
            body = to_slots(html, registry)
            return {"note_html": Markup(body), "note_text": mail_text(body)}

        return self._prepare("note", item, key, subject, preheader, None, {}, personalise)


def render_campaign(
    renderer: CampaignRenderer, session: Session, campaign: Campaign, now: datetime
) -> PreparedEmail:
    """The campaign's message as it would be sent now ("[TEST] " subject for tests)."""
    list_slug = campaign.mailing_list.slug
    if campaign.kind == CampaignKind.WELCOME and campaign.template is not None:
        subject = campaign.subject.removeprefix(TEST_PREFIX)
        prepared = renderer.step(list_slug, campaign.template, subject, None)
    elif campaign.body_markdown is not None:
        subject = campaign.subject.removeprefix(TEST_PREFIX)
        prepared = renderer.note(list_slug, subject, campaign.body_markdown, campaign.key)
    elif campaign.kind == CampaignKind.DIGEST:
        articles = load_articles(session, campaign)
        prepared = renderer.digest(list_slug, articles, campaign.key, issue_date=now)
    else:
        (article,) = load_articles(session, campaign)
        prepared = renderer.article(article, list_slug, campaign.key)
    if campaign.test_to:
        prepared = replace(prepared, subject=TEST_PREFIX + prepared.subject)
    return prepared


def load_articles(session: Session, campaign: Campaign) -> list[Article]:
    """The campaign's articles in its order; CampaignError when one has been deleted."""
    ids = list(campaign.article_ids)
    found = {a.id: a for a in session.scalars(select(Article).where(Article.id.in_(ids)))}
    missing = [i for i in ids if i not in found]
    if missing or not ids:
        raise CampaignError(
            f"campaign {campaign.id}: article(s) {missing or ids} no longer exist; "
            "cancel it and create a new one"
        )
    return [found[i] for i in ids]
