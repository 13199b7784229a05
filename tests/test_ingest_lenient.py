"""Files as editors really have them: a Word paste with a vertical tab in the front matter,
a Windows-1252 export, dates written out, footnotes, tables and definition lists."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dispatch.config import Settings
from dispatch.errors import IngestError
from dispatch.ingest import import_paths
from dispatch.ingest.dates import parse_date, to_datetime
from dispatch.ingest.fields import build_fields
from dispatch.ingest.metadata import split
from dispatch.ingest.source import load_file
from dispatch.store.database import Database

WORD_PASTE = (
    "---\n"
    "title: Harbour budget\n"
    "author: Ilse Varga\n"
    "section: world\n"
    "tags: [budget]\n"
    "summary: What the council will spend\n"
    "date: 2026-11-15\n"
    "caption: The quay\x0bat dawn\n"  # line 8: Word's Shift+Enter
    "---\n"
    "First line\x0bsecond line of the same paragraph.\x07\n"
)


def test_a_word_paste_imports_with_a_warning_on_the_true_line(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "budget.md"
    path.write_text(WORD_PASTE, encoding="utf-8")
    report = import_paths(db, settings, [path])
    assert report.ok, report.failed
    warnings = {(w.line, w.message.split(",")[0]) for w in report.warnings}
    assert warnings == {(8, "U+000B"), (10, "U+0007")}
    vertical = next(w for w in report.warnings if w.message.startswith("U+000B"))
    assert "also on line 10" in vertical.message
    assert str(vertical).startswith(
        f"{path}:8: warning: U+000B, a line break from a word processor"
    )
    source = load_file(path, settings)
    assert (
        "First line\nsecond line" in source.extracted.html or "First line" in source.extracted.html
    )
    fields = build_fields(source, "x", settings)
    assert fields.body_text == "First line second line of the same paragraph."


def test_yaml_errors_point_at_their_line(tmp_path: Path) -> None:
    text = "---\ntitle: ok\nauthor: me\nsection: world\ntags: [a\nsummary: x\ndate: 2026-01-01\n"
    text += "---\nB\n"
    with pytest.raises(IngestError) as caught:
        split(tmp_path / "a.md", text)
    assert caught.value.line == 6
    with pytest.raises(IngestError) as caught:
        split(tmp_path / "a.md", "---\ntitle: a\nb: \ufffe\n---\nB\n")
    assert caught.value.line == 3 and "U+FFFE" in caught.value.reason


def test_a_windows_1252_export_is_read_and_the_guess_reported(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    text = (
        "The caf\u00e9s of the old quay\r\n\r\n"
        "\u201cWe open at six,\u201d says the owner \u2013 and she means it. "
        "Cr\u00e8me br\u00fbl\u00e9e costs \u00a33.50\u2026\r\n"
    )
    path = tmp_path / "cafes.txt"
    path.write_bytes(text.encode("cp1252"))
    report = import_paths(db, settings, [path])
    assert report.ok, report.failed
    (warning,) = report.warnings
    assert "read as cp1252" in warning.message and warning.line == 1
    source = load_file(path, settings)
    assert source.title == "The caf\u00e9s of the old quay"
    assert source.extracted.text == text.splitlines()[2]


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("Sun, 15 Nov 2026 09:00:00 +0100", datetime(2026, 11, 15, 8, 0, tzinfo=UTC)),
        ("November 15, 2026", datetime(2026, 11, 15, 0, 0, tzinfo=UTC)),
        ("15 November 2026 9am", datetime(2026, 11, 15, 9, 0, tzinfo=UTC)),
        ("2026-11-15T09:00:00Z", datetime(2026, 11, 15, 9, 0, tzinfo=UTC)),
        ("2026-11-15", datetime(2026, 11, 15, 0, 0, tzinfo=UTC)),
        ("25/12/2026", datetime(2026, 12, 25, 0, 0, tzinfo=UTC)),
    ],
)
def test_dates_as_people_write_them(written: str, expected: datetime, tmp_path: Path) -> None:
    meta = split(tmp_path / "a.md", f'---\ntitle: T\ndate: "{written}"\n---\nB\n').meta
    assert meta.date is not None
    assert to_datetime(meta.date, "UTC") == expected


@pytest.mark.parametrize("written", ["03/04/2026", "yesterday", "2026-13-45"])
def test_ambiguous_and_impossible_dates_are_refused(written: str, tmp_path: Path) -> None:
    with pytest.raises(IngestError) as caught:
        split(tmp_path / "a.md", f'---\ntitle: T\ndate: "{written}"\n---\nB\n')
    assert caught.value.line == 3 and caught.value.reason.startswith("front matter: date:")
    if written == "03/04/2026":
        assert "ambiguous" in caught.value.reason and "2026-MM-DD" in caught.value.reason
    with pytest.raises(ValueError):
        parse_date(written)


def test_footnotes_tables_and_definition_lists(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text(
        "---\ntitle: Notes\n---\n\nThe tide came early.[^1]\n\n"
        "| port | high water |\n|---|---|\n| North | 06:12 |\n\n"
        "Neap tide\n: the smallest range between high and low water\n\n"
        "[^1]: By eleven minutes.\n",
        encoding="utf-8",
    )
    fields = build_fields(load_file(path, settings), "notes", settings)
    html = fields.body_html
    assert "[^1]" not in html and "[^1]" not in fields.body_text
    assert 'href="http://127.0.0.1:8000/articles/notes#fn1" id="fnref1"' in html
    assert '<li id="fn1">' in html and "By eleven minutes." in fields.body_text
    assert "<table>" in html and "<td>06:12</td>" in html
    assert "<dt>Neap tide</dt>" in html and "<dd>the smallest range" in html


def test_a_news_page_keeps_its_captions_and_time_of_day(settings: Settings) -> None:
    source = load_file(Path(__file__).parent / "data" / "pages" / "ferry-strike.html", settings)
    fields = build_fields(source, "ferry-strike", settings)
    assert fields.date == datetime(2026, 11, 15, 8, 42, tzinfo=UTC)  # 09:42 +01:00
    assert fields.canonical_url == "https://coastline.example/news/2026/11/ferry-strike"
    html = fields.body_html
    assert html.count("<figure>") == 2
    assert (
        "<figcaption>Crew members on the evening ferry, which would be the first sailing cut. "
        "Photo: Tomas Reed</figcaption>" in html
    )
    assert "Passengers queue for the last boat on Thursday. Photo: Maren Holt" in fields.body_text
    assert "Most read" not in fields.body_text and "Privacy" not in fields.body_text
