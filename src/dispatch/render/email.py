"""Emails as `PreparedEmail`s: Jinja2 → MJML → HTML (and a text part), once per message.

Every kind of email (digest, single article, confirm, welcome) renders `email/<kind>.mjml.j2`
and `email/<kind>.txt.j2` with the same context, compiles the MJML once with no remote
fonts, and checks the HTML stays under Gmail's clipping limit — trimming a digest to
links, or a long article to its summary, with a warning, when it would not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, TemplateError
from markupsafe import Markup
from mjml import mjml2html

from dispatch.config import ListSettings, Settings
from dispatch.errors import RenderError
from dispatch.render.articles import ArticleView
from dispatch.render.environment import local_date, make_environment
from dispatch.render.feed_text import clean
from dispatch.render.mail_text import mail_text
from dispatch.render.merge_tags import to_slots
from dispatch.render.prepared import HTML_LIMIT, PreparedEmail
from dispatch.render.slots import LinkSlots, RecipientSlots, SlotRegistry
from dispatch.store.models import Article
from dispatch.store.types import utcnow
from dispatch.urls import Urls

PREHEADER_CHARS = 140


def compile_mjml(source: str, template: str) -> str:
    """HTML from MJML, with no web fonts; RenderError names the template on invalid MJML."""
    try:
        return mjml2html(source, fonts={})
    except ValueError as exc:
        raise RenderError(f"template {template}: invalid MJML: {exc}") from exc


class EmailRenderer:
    """Renders every kind of email for one configuration."""

    def __init__(self, settings: Settings, env: Environment | None = None) -> None:
        self.settings = settings
        self.env = env or make_environment(settings)
        self.urls = Urls(settings.site.base_url)
        self.zone = ZoneInfo(settings.site.timezone)

    def digest(
        self,
        list_slug: str,
        articles: Sequence[Article],
        campaign_key: str,
        issue_date: datetime | None = None,
    ) -> PreparedEmail:
        """Articles as cards; those that do not fit the size limit become a list of links."""
        if not articles:
            raise RenderError(f'digest for list "{list_slug}": no articles to send')
        item = self.settings.list(list_slug)
        views = [ArticleView.of(a, self.urls) for a in articles]
        subject = _one_line(f"{item.name}: {views[0].title}") + (
            f" and {len(views) - 1} more" if len(views) > 1 else ""
        )
        preheader = _clip(" · ".join(v.title for v in views[:4]))

        def render(cards: int) -> PreparedEmail:
            extra = {"articles": views[:cards], "more": views[cards:]}
            return self._prepare(
                "digest", item, campaign_key, subject, preheader, issue_date or utcnow(), extra
            )

        prepared, cards = _largest_fitting(render, len(views))
        if cards < len(views):
            note = (
                f"{len(views) - cards} of {len(views)} articles did not fit in "
                f'{HTML_LIMIT:,} bytes and are listed as links under "More in this issue"'
            )
            prepared = _with_warning(prepared, note)
        return prepared

    def article(self, article: Article, list_slug: str, campaign_key: str) -> PreparedEmail:
        """The full article; an over-long one becomes its summary and a link, with a warning."""
        item = self.settings.list(list_slug)
        view = ArticleView.of(article, self.urls)
        subject, preheader = _one_line(view.title), _clip(view.teaser)
        when = article.published_at or utcnow()
        full = self._prepare(
            "article",
            item,
            campaign_key,
            subject,
            preheader,
            when,
            {"truncated": False},
            lambda registry: {"article": personal_view(view, registry)},
        )
        if full.html.max_bytes <= HTML_LIMIT:
            return full
        short = self._prepare(
            "article",
            item,
            campaign_key,
            subject,
            preheader,
            when,
            {"article": view, "truncated": True},
        )
        note = (
            f'article "{view.slug}" makes a {full.html.max_bytes:,}-byte email (limit '
            f"{HTML_LIMIT:,}): sending its summary and a link to {view.url} instead"
        )
        return _with_warning(short, note)

    def confirm(self, list_slug: str, also: Sequence[str] = ()) -> PreparedEmail:
        """One confirmation for `list_slug` and the `also` lists chosen with it. It does
        not say they are subscribed: they are not until they confirm."""
        items = [self.settings.list(slug) for slug in (list_slug, *also)]
        names = _names(items)
        subject = _one_line(f"Confirm your subscription to {names}")
        preheader = _clip(f"One click to start receiving {names} from {self.settings.site.title}.")
        footer = (
            f"You get this email because this address was entered to subscribe to {names} "
            f"from {self.settings.site.title}. Nothing more is sent unless you confirm."
        )
        extra = {"chosen_lists": items, "list_names": names, "footer_note": footer}
        return self._prepare("confirm", items[0], None, subject, preheader, None, extra)

    def welcome(self, list_slug: str, also: Sequence[str] = ()) -> PreparedEmail:
        """One welcome for every list confirmed at once."""
        items = [self.settings.list(slug) for slug in (list_slug, *also)]
        names = _names(items)
        subject = _one_line(f"Welcome to {names}")
        description = items[0].description if len(items) == 1 else ""
        preheader = _clip(f"You are subscribed to {names}. {description}".strip())
        extra = {"chosen_lists": items, "list_names": names}
        return self._prepare("welcome", items[0], None, subject, preheader, None, extra)

    def step(
        self, list_slug: str, template: str, subject: str, campaign_key: str | None
    ) -> PreparedEmail:
        """A welcome series step written as `email/<template>.mjml.j2` and `.txt.j2`."""
        item = self.settings.list(list_slug)
        subject = _one_line(subject)
        preheader = _clip(f"{item.name}: {subject}")
        if template == "welcome":
            preheader = _clip(f"You are subscribed to {item.name}. {item.description}")
        extra = {"chosen_lists": [item], "list_names": item.name}  # as the built-in welcome
        return self._prepare(template, item, campaign_key, subject, preheader, None, extra)

    def _prepare(
        self,
        kind: str,
        item: ListSettings,
        campaign_key: str | None,
        subject: str,
        preheader: str,
        issue_date: datetime | None,
        extra: dict[str, Any],
        personalise: Callable[[SlotRegistry], dict[str, Any]] | None = None,
    ) -> PreparedEmail:
        """`personalise(registry)` adds context that holds recipients' slots (merge tags)."""
        registry = SlotRegistry()
        context = {
            "site": self.settings.site,
            "branding": self.settings.branding,
            "mailing_list": item,
            "subject": subject,
            "preheader": preheader,
            "issue_date": local_date(issue_date, self.zone) if issue_date else "",
            "urls": LinkSlots(registry, self.urls.home(), self._view_url(item.slug, campaign_key)),
            "recipient": RecipientSlots(registry),
            **extra,
            **(personalise(registry) if personalise else {}),
        }
        mjml_name, text_name = f"email/{kind}.mjml.j2", f"email/{kind}.txt.j2"
        # C0 controls (from any article field) make MRML refuse the whole document and
        # have no business in mail: drop them, as feeds do.
        html = compile_mjml(clean(self._render(mjml_name, context)), mjml_name)
        text = clean(self._render(text_name, context))
        return PreparedEmail.build(kind, subject, preheader, html, text, registry)

    def _view_url(self, list_slug: str, campaign_key: str | None) -> str:
        """A campaign's web copy; transactional mail (no campaign) links the list's archive."""
        if campaign_key is None:
            return self.urls.archive_list(list_slug)
        return self.urls.archive(list_slug, campaign_key)

    def _render(self, name: str, context: dict[str, Any]) -> str:
        try:
            return self.env.get_template(name).render(context)
        except TemplateError as exc:
            where = f"{exc.filename or name}:{exc.lineno}" if getattr(exc, "lineno", None) else name
            raise RenderError(f"template {where}: {exc.message or exc}") from exc


def personal_view(view: ArticleView, registry: SlotRegistry) -> ArticleView:
    """The article with its merge tags as the recipient's slots (RenderError if unknown)."""
    body = to_slots(view.body_html, registry)
    return replace(view, body_html=Markup(body), mail_text=mail_text(body))


def _largest_fitting(
    render: Callable[[int], PreparedEmail], total: int
) -> tuple[PreparedEmail, int]:
    """The render with the most article cards (0‥total) whose HTML fits the limit."""
    prepared = render(total)
    if prepared.html.max_bytes <= HTML_LIMIT:
        return prepared, total
    best: tuple[PreparedEmail, int] | None = None
    low, high = 0, total - 1
    while low <= high:
        middle = (low + high) // 2
        attempt = render(middle)
        if attempt.html.max_bytes <= HTML_LIMIT:
            best, low = (attempt, middle), middle + 1
        else:
            high = middle - 1
    if best is None:
        raise RenderError(f"digest of {total} articles exceeds {HTML_LIMIT:,} bytes even as links")
    return best


def _with_warning(prepared: PreparedEmail, warning: str) -> PreparedEmail:
    return replace(prepared, warnings=(*prepared.warnings, warning))


def _names(items: Sequence[ListSettings]) -> str:
    """ "A", "A and B", "A, B and C"."""
    names = [item.name for item in items]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _one_line(text: str) -> str:
    return " ".join(clean(text).split())


def _clip(text: str) -> str:
    text = _one_line(text)
    if len(text) <= PREHEADER_CHARS:
        return text
    return text[:PREHEADER_CHARS].rsplit(" ", 1)[0].rstrip(".,;:!?·") + "…"
