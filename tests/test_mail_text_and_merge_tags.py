"""The text part keeps every link and image alt text; notes and article sends fill merge
tags per recipient through the compiled-once fast path; an unknown tag never goes out."""

from __future__ import annotations

from collections.abc import Callable
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from html import escape
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import Result

from dispatch.campaigns import create_note
from dispatch.config import Settings
from dispatch.errors import RenderError
from dispatch.render.mail_text import mail_text
from dispatch.render.merge_tags import parse, with_defaults
from dispatch.store.database import Database
from dispatch.store.models import Campaign, Subscriber
from dispatch.store.types import utcnow
from support.campaigns import add_article, add_subscribers

LIST = "morning-briefing"
Cli = Callable[..., Result]
NOTE = """Dear {{ name | default("reader") }},

Hello {{ first_name }}: this copy went to {{ email }}. Templates look like `{{ name }}`.

Read [the new timetable](https://news.example/timetable) and write to
[the desk](mailto:desk@news.example). ![A map of the new routes](https://news.example/map.png)
"""


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "merge-tags-secret")


def _messages(settings: Settings, campaign_id: int) -> list[EmailMessage]:
    folder = settings.delivery.outbox.dir / str(campaign_id)
    parsed = [
        message_from_bytes(p.read_bytes(), policy=default) for p in sorted(folder.glob("*.eml"))
    ]
    return parsed  # type: ignore[return-value]


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def test_a_note_to_a_hundred_people_is_filled_for_each(
    cli: Cli, db: Database, settings: Settings, tmp_path: Path
) -> None:
    people = add_subscribers(db, LIST, 100)
    with db.session() as session:  # two people gave no name
        session.execute(update(Subscriber).where(Subscriber.email.in_(people[:2])).values(name=""))
    body = tmp_path / "note.md"
    body.write_text(NOTE, encoding="utf-8")
    result = cli(
        "send", "note", "--list", LIST, "--subject", "Timetable", "--body", str(body), "--yes"
    )
    assert result.exit_code == 0, result.output
    messages = _messages(settings, 1)
    assert len(messages) == 100
    for message in messages:
        to = message["To"].addresses[0]
        text, html = _parts(message)
        assert "{{" not in text.replace("`{{ name }}`", "").replace("{{ name }}", "")
        expected = to.display_name or "reader"
        assert f"Dear {expected}," in text
        assert f"Dear {escape(expected, quote=False)}," in html
        first = to.display_name.split()[0] if to.display_name else ""
        assert f"Hello {first}: this copy went to {to.addr_spec}." in text
        assert "<code>{{ name }}</code>" in html  # code is left alone
        assert "the new timetable [1]" in text and "[1] https://news.example/timetable" in text
        assert "the desk [2]" in text and "[2] desk@news.example" in text
        assert "[Image: A map of the new routes]" in text
        assert max(len(line) for line in text.splitlines() if "http" not in line) <= 72


def test_unknown_tags_fail_at_preview_and_at_send(db: Database, settings: Settings) -> None:
    with pytest.raises(RenderError, match=r'"\{\{ nmae \}\}" is not one'), db.session() as session:
        create_note(session, settings, LIST, "Hi", "Dear {{ nmae }},\n\nx", utcnow())
    with pytest.raises(RenderError, match="body only"), db.session() as session:
        create_note(session, settings, LIST, "Hi {{ name }}", "x", utcnow())
    with db.session() as session:
        assert session.scalars(select(Campaign)).all() == []


def test_cli_reports_an_unknown_tag_and_sends_nothing(
    cli: Cli, db: Database, settings: Settings, tmp_path: Path
) -> None:
    add_subscribers(db, LIST, 3)
    body = tmp_path / "note.md"
    body.write_text("Dear {{ customer.name }},\n", encoding="utf-8")
    result = cli("send", "note", "--list", LIST, "--subject", "x", "--body", str(body), "--yes")
    assert result.exit_code != 0
    assert "is not one Dispatch knows" in result.output
    assert not settings.delivery.outbox.dir.exists() or not any(
        settings.delivery.outbox.dir.rglob("*.eml")
    )


def test_an_article_send_fills_tags_and_the_web_shows_defaults(
    cli: Cli, db: Database, settings: Settings
) -> None:
    add_subscribers(db, LIST, 2)
    add_article(
        db,
        "letter",
        title="A letter",
        body='<p>Dear {{ first_name | default("friend") }}, see <a href="https://x.example/a">this</a>.</p>',
    )
    result = cli("send", "article", "letter", "--list", LIST, "--yes")
    assert result.exit_code == 0, result.output
    texts = sorted(_parts(m)[0] for m in _messages(settings, 1))
    assert "Dear User, see this [1]." in texts[0] and "[1] https://x.example/a" in texts[0]
    assert with_defaults('<p>Dear {{ first_name | default("friend") }}</p>') == "<p>Dear friend</p>"
    assert with_defaults("Dear {{ name }}") == "Dear "
    assert with_defaults("{{ unknown }}") == "{{ unknown }}"


@pytest.mark.parametrize(
    ("raw", "field", "fallback"),
    [
        (" name ", "name", ""),
        (' email | default("you") ', "email", "you"),
        ("first_name|default('x')", "first_name", "x"),
    ],
)
def test_tag_syntax(raw: str, field: str, fallback: str) -> None:
    tag = parse(raw)
    assert (tag.field, tag.default) == (field, fallback)


def test_mail_text_keeps_structure() -> None:
    text = mail_text(
        '<h2>Next</h2><ul><li>One <a href="https://a.example/">https://a.example/</a></li></ul>'
        "<blockquote><p>Quoted words</p></blockquote><pre>  kept\n    as is</pre>"
    )
    assert text == "Next\n----\n\n- One https://a.example/\n\n> Quoted words\n\n  kept\n    as is"
