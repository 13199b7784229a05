"""Golden files: one digest and one single-article email, as the preview writes them
(`email.html`, `email.txt`, `email.eml`), compared with `tests/data/golden/`.

Fixed articles, a fixed issue date, a fixed config and a fixed secret key make every
byte reproducible, signed unsubscribe and preferences links included (those tokens
carry no time stamp). Only what the message builder draws at random or from the
clock is scrubbed before comparing: the `Message-ID`, the `Date` header and the MIME
boundary (each checked for shape first).

After a deliberate change of the templates or the renderer, rewrite the files with

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_email_golden.py

(`DISPATCH_UPDATE_GOLDEN=1`, as the feed goldens use, works too) and review the diff.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import default
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from conftest import DATA, write_config
from dispatch import config
from dispatch.config import Settings
from dispatch.render.email import EmailRenderer
from dispatch.render.prepared import PreparedEmail
from dispatch.render.preview import write_preview
from dispatch.store.models import Article

GOLDEN = DATA / "golden"
UPDATE = "1" in (os.environ.get("UPDATE_GOLDEN"), os.environ.get("DISPATCH_UPDATE_GOLDEN"))
SECRET = "golden-file-secret-key"
ISSUE = datetime(2026, 7, 4, 6, 0, tzinfo=UTC)
MESSAGE_ID = re.compile(rb"^Message-ID: <[^<>@\s]+@dispatch\.example>\r$", re.MULTILINE)
DATE = re.compile(rb"^Date: ([^\r\n]+)\r$", re.MULTILINE)
BOUNDARY = re.compile(rb'boundary="(=+\d+==)"')


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", SECRET)
    replace = {r"^base_url = .*$": 'base_url = "https://news.example"'}
    return config.load(write_config(tmp_path, f"sqlite:///{tmp_path / 'unused.db'}", replace))


def articles() -> list[Article]:
    common = {"author": "Ada Lovelace", "section": "world", "tags": ["harbour"]}
    return [
        Article(
            slug="harbour-vote",
            title="Councils vote on the new harbour",
            summary="After two years of consultation, the three councils agree on a plan.",
            body_html='<p>The vote was <strong>unanimous</strong>. See <a href="/maps/harbour">'
            "the map</a>.</p><blockquote><p>“A good day for the town.”</p></blockquote>",
            body_text="The vote was unanimous. See the map.\n\n“A good day for the town.”",
            image="/media/harbour.png",
            image_caption="The harbour at dawn",
            published_at=datetime(2026, 7, 3, 18, 30, tzinfo=UTC),
            **common,
        ),
        Article(
            slug="chip-plant",
            title="Café owners welcome the chip plant",
            summary="",
            body_html="<p>Jobs, at last.</p><ul><li>1,200 posts</li><li>Opens in 2028</li></ul>",
            body_text="Jobs, at last.\n\n- 1,200 posts\n- Opens in 2028",
            author="Grace Hopper",
            section="technology",
            published_at=datetime(2026, 7, 3, 9, 0, tzinfo=UTC),
        ),
        Article(
            slug="rain-ahead",
            title="Rain ahead for the weekend",
            summary="Bring an umbrella.",
            body_html="<p>Rain from Saturday noon.</p>",
            body_text="Rain from Saturday noon.",
            published_at=datetime(2026, 7, 2, 7, 0, tzinfo=UTC),
            **common,
        ),
    ]


EMAILS = {
    "digest": lambda r: r.digest("morning-briefing", articles(), "2026-07-04", issue_date=ISSUE),
    "article": lambda r: r.article(articles()[0], "morning-briefing", "harbour-vote"),
}


def scrub(eml: bytes) -> bytes:
    """The message with its random Message-ID, clock Date and MIME boundary replaced."""
    assert len(MESSAGE_ID.findall(eml)) == 1, "one Message-ID of the sender's domain"
    [date] = DATE.findall(eml)
    assert parsedate_to_datetime(date.decode()).tzinfo is not None
    [boundary] = set(BOUNDARY.findall(eml))
    eml = MESSAGE_ID.sub(b"Message-ID: <MESSAGE-ID@dispatch.example>\r", eml)
    eml = DATE.sub(b"Date: DATE\r", eml)
    return eml.replace(boundary, b"BOUNDARY")


def rendered(settings: Settings, kind: str, out: Path) -> dict[str, bytes]:
    prepared: PreparedEmail = EMAILS[kind](EmailRenderer(settings))
    assert prepared.warnings == ()
    files = write_preview(prepared, settings, settings.list("morning-briefing"), out)
    return {
        "html": files.html.read_bytes(),
        "txt": files.text.read_bytes(),
        "eml": scrub(files.eml.read_bytes()),
    }


@pytest.mark.parametrize("kind", list(EMAILS))
def test_email_matches_golden_files(settings: Settings, tmp_path: Path, kind: str) -> None:
    outputs = rendered(settings, kind, tmp_path / kind)
    for suffix, content in outputs.items():
        golden = GOLDEN / f"{kind}.{suffix}"
        if UPDATE:
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_bytes(content)
        assert golden.exists(), f"{golden} is missing: run with UPDATE_GOLDEN=1"
        if suffix == "eml":
            assert content == golden.read_bytes(), f"{golden.name} differs"
        else:
            assert content.decode() == golden.read_text(encoding="utf-8"), golden.name


@pytest.mark.parametrize("kind", list(EMAILS))
def test_rendering_twice_gives_the_same_bytes(settings: Settings, tmp_path: Path, kind: str):
    assert rendered(settings, kind, tmp_path / "a") == rendered(settings, kind, tmp_path / "b")


def test_golden_messages_are_complete(settings: Settings) -> None:
    """The goldens themselves are sound: parts in order, links signed, headers set."""
    for kind in EMAILS:
        message = BytesParser(policy=default).parsebytes((GOLDEN / f"{kind}.eml").read_bytes())
        assert [p.get_content_type() for p in message.iter_parts()] == [
            "text/plain",
            "text/html",
        ]
        html = (GOLDEN / f"{kind}.html").read_text(encoding="utf-8")
        unsubscribe = message["List-Unsubscribe"].strip("<>")
        assert unsubscribe.startswith("https://news.example/unsubscribe/")
        assert f'href="{unsubscribe}"' in html
        assert "https://news.example/media/harbour.png" in html
        assert message["Subject"] and "\n" not in message["Subject"]
