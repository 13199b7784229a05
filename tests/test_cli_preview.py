from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from email.parser import BytesParser
from email.policy import default
from pathlib import Path

import lxml.html
import pytest
from typer.testing import Result

from dispatch.store.database import Database
from dispatch.store.models import Article
from dispatch.store.types import utcnow
from dispatch.tokens import Tokens

Cli = Callable[..., Result]
SECRET = "preview-test-secret"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", SECRET)


def add(db: Database, slug: str, section: str, hours_ago: float, body_html: str = "") -> None:
    with db.session() as session:
        session.add(
            Article(
                slug=slug,
                title=f"{slug.replace('-', ' ').title()}\r\nX-Injected: yes",
                summary=f"What {slug} is about.",
                body_html=body_html or f"<p>All of {slug}.</p>",
                body_text=f"All of {slug}.",
                author="Grace Hopper",
                section=section,
                published_at=utcnow() - timedelta(hours=hours_ago),
                source="test",
                source_id=slug,
                content_hash=slug.ljust(64, "0"),
            )
        )


def lf(value: str) -> str:
    return value.replace("\r\n", "\n").rstrip("\n")  # set_content ends parts with a newline


def files(out: Path) -> tuple[str, str, bytes]:
    html, text = ((out / name).read_bytes().decode() for name in ("email.html", "email.txt"))
    return html, text, (out / "email.eml").read_bytes()


def test_preview_digest_writes_html_text_and_a_parseable_eml(
    cli: Cli, db: Database, tmp_path: Path
) -> None:
    add(db, "harbour-vote", "world", 3)
    add(db, "chip-news", "technology", 5)
    add(db, "gallery-opens", "culture", 4)  # not in morning-briefing's sections
    out = tmp_path / "preview"
    result = cli(
        "preview",
        "digest",
        "--list",
        "morning-briefing",
        "--since",
        "2000-01-01",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    html, text, raw = files(out)
    assert str(out / "email.html") in result.output and str(out / "email.eml") in result.output
    assert f"HTML size: {len(html.encode()):,} bytes" in result.output
    assert "/articles/harbour-vote" in html and "/articles/chip-news" in html
    assert "gallery-opens" not in html and "gallery-opens" not in text

    message = BytesParser(policy=default).parsebytes(raw)
    assert message["To"] == "Sam Sample <sam@example.com>"
    assert message["From"] == "The Dispatch <briefing@dispatch.example>"
    assert message["Reply-To"] == "editors@dispatch.example"
    assert message["Subject"].startswith(
        "Morning Briefing: Harbour Vote X-Injected: yes and 1 more"
    )
    assert message["X-Injected"] is None
    assert message["Message-ID"] and message["Date"]
    assert message["List-Id"] == "Morning Briefing <morning-briefing.127.0.0.1>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = message["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith("http://127.0.0.1:8000/unsubscribe/")
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert lf(parts[0].get_content()) == lf(text) and lf(parts[1].get_content()) == lf(html)

    tree = lxml.html.document_fromstring(html)
    links = {a.text_content().strip(): a.get("href") for a in tree.iter("a")}
    assert links["Unsubscribe"] == unsubscribe
    claim = unsubscribe.rsplit("/", 1)[1]
    with pytest.raises(ValueError, match="unexpected content"):  # the sample never verifies
        Tokens(SECRET).verify_unsubscribe(claim)


def test_preview_digest_default_since_is_one_period_back(
    cli: Cli, db: Database, tmp_path: Path
) -> None:
    add(db, "fresh", "world", 1)
    add(db, "stale", "world", 24 * 3)
    result = cli("preview", "digest", "--list", "morning-briefing", "--out", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output
    html, _, _ = files(tmp_path / "o")
    assert "/articles/fresh" in html and "/articles/stale" not in html


def test_preview_digest_with_nothing_new_writes_nothing(
    cli: Cli, db: Database, tmp_path: Path
) -> None:
    add(db, "gallery-opens", "culture", 1)
    result = cli("preview", "digest", "--list", "morning-briefing", "--out", str(tmp_path / "o"))
    assert result.exit_code == 1
    assert "Nothing new in Morning Briefing since" in result.output
    assert not (tmp_path / "o").exists()


def test_preview_article_uses_its_list_and_warns_when_too_long(
    cli: Cli, db: Database, tmp_path: Path
) -> None:
    add(db, "short-piece", "culture", 2)
    add(db, "epic", "world", 2, body_html="<p>" + "very long sentence here. " * 9000 + "</p>")
    result = cli("preview", "article", "short-piece", "--out", str(tmp_path / "a"))
    assert result.exit_code == 0, result.output
    html, _, raw = files(tmp_path / "a")
    message = BytesParser(policy=default).parsebytes(raw)
    assert message["List-Id"].startswith("Weekly Review <weekly-review.")  # culture → weekly
    assert "All of short-piece." in html and "warning" not in result.output

    result = cli(
        "preview", "article", "epic", "--list", "morning-briefing", "--out", str(tmp_path / "b")
    )
    assert result.exit_code == 0, result.output
    assert "warning:" in result.output and "/articles/epic" in result.output
    html, _, _ = files(tmp_path / "b")
    assert len(html.encode()) < 102_000 and "Read the full article" in html


def test_preview_unknown_article_or_list_is_an_error(
    cli: Cli, db: Database, tmp_path: Path
) -> None:
    result = cli("preview", "article", "nope", "--out", str(tmp_path / "x"))
    assert result.exit_code == 2 and 'no article with slug "nope"' in result.output
    result = cli("preview", "digest", "--list", "nope", "--out", str(tmp_path / "x"))
    assert result.exit_code == 2 and 'no list "nope"' in result.output
