"""Write a prepared email for a sample recipient: email.html, email.txt, email.eml."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from dispatch.config import ListSettings, Settings
from dispatch.delivery.mime import ListHeaders, Mailbox, build_message
from dispatch.render.prepared import PreparedEmail
from dispatch.render.recipients import signed_recipient
from dispatch.store.types import utcnow
from dispatch.tokens import Tokens
from dispatch.urls import Urls

# Id 0 is never a subscriber: the preview's links look real but never verify.
SAMPLE_ID, SAMPLE_KEY = 0, "sample"
SAMPLE = Mailbox(email="sam@example.com", name="Sam Sample")
SAMPLE_ATTRIBUTES = {"city": "Lisbon", "first_name": "Sam"}


@dataclass(frozen=True)
class PreviewFiles:
    html: Path
    text: Path
    eml: Path
    html_bytes: int


@dataclass(frozen=True)
class SampleEmail:
    """A prepared email filled for the sample recipient: both parts and the whole message."""

    html: str
    text: str
    message: EmailMessage


def sample_email(prepared: PreparedEmail, settings: Settings, item: ListSettings) -> SampleEmail:
    """The message exactly as the sample recipient would get it (also for the admin)."""
    urls = Urls(settings.site.base_url)
    recipient = signed_recipient(
        subscriber_id=SAMPLE_ID,
        token_key=SAMPLE_KEY,
        email=SAMPLE.email,
        name=SAMPLE.name,
        attributes=SAMPLE_ATTRIBUTES,
        list_slug=item.slug,
        tokens=Tokens(settings.secret_key),
        urls=urls,
        with_confirm=prepared.kind == "confirm",
    )
    html, text = prepared.fill(recipient)
    message = build_message(
        sender=Mailbox(item.from_email, item.from_name),
        to=SAMPLE,
        reply_to=item.reply_to,
        subject=prepared.subject,
        html=html,
        text=text,
        headers=ListHeaders(
            item.slug, item.name, settings.site.base_url, recipient.unsubscribe_url
        ),
        date=utcnow(),
    )
    return SampleEmail(html, text, message)


def write_preview(
    prepared: PreparedEmail, settings: Settings, item: ListSettings, out: Path
) -> PreviewFiles:
    sample = sample_email(prepared, settings, item)
    out.mkdir(parents=True, exist_ok=True)
    files = PreviewFiles(
        out / "email.html", out / "email.txt", out / "email.eml", len(sample.html.encode())
    )
    files.html.write_text(sample.html, encoding="utf-8")
    files.text.write_text(sample.text, encoding="utf-8")
    files.eml.write_bytes(sample.message.as_bytes())
    return files
