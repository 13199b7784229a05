"""A folder of Markdown with its images beside it, imported as an editor would: images
go to the media store, pages, feeds (enclosures too) and email carry absolute media URLs;
a bad image or a path that leaves the content folder fails the file and writes nothing."""

from __future__ import annotations

from pathlib import Path

import feedparser
import pytest
from lxml import etree
from sqlalchemy import func, select

from dispatch.config import Settings
from dispatch.ingest import Action, import_paths
from dispatch.media.importing import copy_images
from dispatch.media.store import MediaStore
from dispatch.render.email import EmailRenderer
from dispatch.render.feeds import build_feeds
from dispatch.store.database import Database
from dispatch.store.models import Article
from support.images import NOT_AN_IMAGE, camera_jpeg, chart_png, huge_png

STORY = """---
id: fares-2026
title: Ferry fares since 2010
section: world
image: images/hero.jpg
image_alt: The evening ferry leaving the quay
---

Fares have doubled in fifteen years.

![A chart of ferry fares since 2010](images/chart.png)

See also ![the old timetable](../shared/timetable%20old.png "scan").
"""


def _import(db: Database, settings: Settings, *paths: Path):
    return import_paths(db, settings, paths, prepare=lambda s, root: copy_images(s, root, settings))


@pytest.fixture
def content(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    (root / "2026" / "images").mkdir(parents=True)
    (root / "shared").mkdir()
    (root / "2026" / "fares.md").write_text(STORY, encoding="utf-8")
    (root / "2026" / "images" / "chart.png").write_bytes(chart_png())
    (root / "2026" / "images" / "hero.jpg").write_bytes(camera_jpeg(2400, 1600, rotated=False))
    (root / "shared" / "timetable old.png").write_bytes(chart_png(300, 200))
    return root


def _article(db: Database) -> Article:
    with db.session() as session:
        article = session.scalars(select(Article)).one()
        session.expunge(article)
        return article


def _media_files(settings: Settings) -> set[str]:
    root = settings.feeds.public_dir / "media"
    return (
        {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
        if root.exists()
        else set()
    )


def test_images_beside_markdown_become_media(
    db: Database, settings: Settings, content: Path
) -> None:
    report = _import(db, settings, content)
    assert report.ok, report.failed
    article = _article(db)
    store = MediaStore.of(settings)
    prefix = f"{settings.site.base_url}/media/"
    assert article.image is not None and article.image.startswith(prefix)
    assert article.image.endswith("-600.jpg") and article.image_alt.startswith("The evening")
    body = etree.fromstring(f"<div>{article.body_html}</div>", etree.HTMLParser())
    images = body.findall(".//img")
    assert [img.get("alt") for img in images] == [
        "A chart of ferry fares since 2010",
        "the old timetable",
    ]
    for img in images:
        stored = store.info(img.get("src"))
        assert stored is not None, img.get("src")
        assert img.get("srcset") == f"{stored.url} 1x, {stored.url_2x} 2x"
        assert (img.get("width"), img.get("height")) == (str(stored.width), str(stored.height))
    assert len(_media_files(settings)) == 9  # three images: two renditions and a JSON each

    again = _import(db, settings, content)  # unchanged: nothing new, same media names
    assert [item.action for item in again.imported] == [Action.UNCHANGED]
    assert len(_media_files(settings)) == 9


def test_feeds_and_email_carry_absolute_media_urls(
    db: Database, settings: Settings, content: Path
) -> None:
    assert _import(db, settings, content).ok
    article = _article(db)
    stored = MediaStore.of(settings).info(article.image)
    assert stored is not None
    with db.session() as session:
        files = {f.path: f.content for f in build_feeds(session, settings)}
    for name in ("rss.xml", "atom.xml"):
        etree.fromstring(files[name])  # well-formed XML
        assert not feedparser.parse(files[name]).bozo, name
    rss = feedparser.parse(files["rss.xml"])
    (enclosure,) = rss.entries[0].enclosures
    assert enclosure.href == stored.url
    assert (
        int(enclosure.length)
        == stored.bytes
        == (settings.feeds.public_dir / "media" / stored.url.split("/media/")[1]).stat().st_size
    )
    assert enclosure.type == "image/jpeg"
    atom = files["atom.xml"].decode()
    assert f'href="{stored.url}"' in atom and f'length="{stored.bytes}"' in atom
    assert 'src="images/' not in atom and "/articles/images/" not in atom
    prepared = EmailRenderer(settings).article(article, "morning-briefing", "key")
    html = prepared.html.fill([""] * prepared.html.slot_count)
    assert f'src="{stored.url}"' in html and "/articles/images/" not in html
    text = prepared.text.fill([""] * prepared.text.slot_count)
    assert "[Image: A chart of ferry fares since 2010]" in text


@pytest.mark.parametrize(
    ("reference", "written", "reason"),
    [
        ("../../../../etc/passwd", None, "the path leaves the content folder"),
        ("/../../etc/passwd", None, "the path leaves the content folder"),
        ("images/missing.png", None, "no such file:"),
        ("images/chart.png", NOT_AN_IMAGE, "not an image (JPEG, PNG, GIF or WebP expected)"),
        ("images/chart.png", huge_png(), "7072x7072 is 50.0 megapixels, over the 40-megapixel"),
    ],
)
def test_a_bad_image_fails_its_file_and_nothing_is_written(
    db: Database,
    settings: Settings,
    tmp_path: Path,
    reference: str,
    written: bytes | None,
    reason: str,
) -> None:
    root = tmp_path / "content"
    (root / "images").mkdir(parents=True)
    if written is not None:
        (root / "images" / "chart.png").write_bytes(written)
    (root / "ok.md").write_text("---\ntitle: Fine\n---\n\nNo images.\n", encoding="utf-8")
    bad = root / "bad.md"
    bad.write_text(f"---\ntitle: Bad\n---\n\nText.\n\n![A chart]({reference})\n", encoding="utf-8")
    report = _import(db, settings, root)
    (error,) = report.failed
    assert error.path == bad
    assert error.reason.startswith(f'image "{reference}": ')
    assert reason in error.reason
    assert [item.slug for item in report.imported] == ["fine"]  # the others still import
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Article)) == 1
    assert _media_files(settings) == set()


def test_a_saved_web_page_keeps_remote_images(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "---\ntitle: Linked\ncanonical_url: https://blog.example/posts/linked\n---\n\n"
        "![remote](pics/a.png)\n",
        encoding="utf-8",
    )
    assert _import(db, settings, page).ok
    assert 'src="https://blog.example/posts/pics/a.png"' in _article(db).body_html


def test_a_root_relative_image_not_in_the_folder_stays_a_site_link(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "tides.md"
    path.write_text("---\ntitle: Tides\nimage: /static/tide.jpg\n---\n\nBody.\n", encoding="utf-8")
    report = _import(db, settings, path)
    assert report.ok, report.failed
    (warning,) = report.warnings
    assert 'image "/static/tide.jpg" is not in' in warning.message
    assert _article(db).image == f"{settings.site.base_url}/static/tide.jpg"
