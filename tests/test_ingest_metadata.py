from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from dispatch.errors import IngestError
from dispatch.ingest.metadata import split, to_datetime

PATH = Path("post.md")


def _error(text: str) -> IngestError:
    with pytest.raises(IngestError) as caught:
        split(PATH, text)
    return caught.value


def test_text_without_front_matter_is_all_body() -> None:
    parts = split(PATH, "Just a body\n")
    assert not parts.has_front_matter
    assert parts.body == "Just a body\n"
    assert parts.meta.status == "published"


def test_front_matter_fields_are_read_and_unknown_keys_ignored() -> None:
    parts = split(
        PATH,
        "---\nid: 42\ntitle: ' Hello '\ntags: [a, ' b ', a]\ndate: 2025-01-02\n"
        "status: draft\nlayout: post\n---\nBody\n",
    )
    assert parts.meta.id == 42
    assert parts.meta.title == "Hello"
    assert parts.meta.tags == ["a", "b"]
    assert parts.meta.date is not None
    assert to_datetime(parts.meta.date, "UTC") == datetime(2025, 1, 2, tzinfo=UTC)
    assert parts.meta.status == "draft"
    assert parts.body.strip() == "Body"


def test_malformed_yaml_reports_the_line() -> None:
    error = _error("---\ntitle: ok\ntags: [a, b\nauthor: me\n---\nBody\n")
    assert error.line == 4
    assert error.reason.startswith("front matter is not valid YAML")


def test_unclosed_front_matter() -> None:
    error = _error("---\ntitle: never closed\n\nBody\n")
    assert "never closed" in error.reason


def test_front_matter_must_be_a_mapping() -> None:
    assert "must be a mapping" in _error("---\n- a\n- b\n---\nBody\n").reason


def test_tags_must_be_a_list() -> None:
    error = _error("---\ntitle: T\n\ntags: news, world\n---\nBody\n")
    assert error.line == 4
    assert error.reason.startswith("front matter: tags: Input should be a valid list")


@pytest.mark.parametrize("value", ["yesterday", "2025-13-45"])
def test_bad_date(value: str) -> None:
    error = _error(f"---\ntitle: T\ndate: {value}\n---\nBody\n")
    assert error.line == 3
    assert "date" in error.reason


def test_unknown_status() -> None:
    error = _error("---\ntitle: T\nstatus: live\n---\nBody\n")
    assert error.line == 3
    assert (
        error.reason
        == "front matter: status: Input should be 'draft', 'published' or 'scheduled' (got 'live')"
    )


def test_title_must_be_text_and_canonical_url_absolute() -> None:
    assert _error("---\ntitle: 2025\n---\nBody\n").reason.startswith("front matter: title:")
    error = _error("---\ntitle: T\ncanonical_url: /relative\n---\nBody\n")
    assert error.reason == 'front matter: canonical_url: "/relative" is not an absolute http(s) URL'


def test_to_datetime_uses_site_timezone_for_naive_values() -> None:
    assert to_datetime(date(2025, 7, 1), "Europe/London").astimezone(UTC) == datetime(
        2025, 6, 30, 23, 0, tzinfo=UTC
    )
    aware = datetime(2025, 7, 1, 12, tzinfo=UTC)
    assert to_datetime(aware, "Europe/London") == aware
    assert to_datetime("2025-07-01T08:00:00+02:00", "UTC") == datetime(2025, 7, 1, 6, tzinfo=UTC)


def test_section_becomes_a_key_that_lists_can_match() -> None:
    parsed = split(PATH, "---\ntitle: T\nsection: World News\n---\nbody\n")
    assert parsed.meta.section == "world-news"
