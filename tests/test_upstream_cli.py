"""`dispatch upstream poll|list` and the `[upstream]` configuration."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from conftest import DATA, write_config
from dispatch import config
from dispatch.errors import ConfigError
from dispatch.store.database import Database
from support.upstream_server import FeedServer, Reply, feed, feed_server

WORDPRESS = (DATA / "upstream" / "wordpress.xml").read_bytes()
ROOT = Path(__file__).parent.parent


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as running:
        yield running


def add_sources(path: Path, *tables: str) -> None:
    """Append `[[upstream.sources]]` tables to the config file at `path`."""
    extra = "".join(f"\n[[upstream.sources]]\n{table.strip()}\n" for table in tables)
    path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")


@pytest.fixture
def run(config_path: Path) -> Callable[..., Result]:
    from dispatch.cli import app

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(app, ["--config", str(config_path), *args])

    return invoke


def test_poll_then_list(
    db: Database, config_path: Path, server: FeedServer, run: Callable[..., Result]
) -> None:
    server.serve("/feed/", feed(WORDPRESS))
    server.serve("/broken.xml", Reply(500, b"oops"))
    add_sources(
        config_path,
        f'url = "{server.url("/feed/")}"\nsection = "technology"\nname = "harbour"',
        f'url = "{server.url("/broken.xml")}"\nsection = "world"\nname = "broken"',
    )

    polled = run("upstream", "poll")

    assert polled.exit_code == 1, polled.output  # one feed failed
    assert "source=harbour" in polled.output and "status=fetched" in polled.output
    assert "new=4 updated=0" in polled.output
    assert "source=broken" in polled.output and "status=failed" in polled.output
    assert "2 polled, 4 new, 0 updated, 1 failed" in polled.output
    assert "No feed is due." in run("upstream", "poll").output

    listed = run("upstream", "list")
    assert listed.exit_code == 0, listed.output
    for text in ("harbour", "broken", "technology", "active", "HTTP 500"):
        assert text in listed.output

    again = run("upstream", "poll", "harbour")  # named: polled although not due
    assert again.exit_code == 0, again.output
    assert "status=not-modified http=304" in again.output

    every = run("upstream", "poll", "--all")
    assert every.exit_code == 1 and "2 polled" in every.output

    shown = run("articles", "show", "the-night-ferrys-last-crossing")
    assert shown.exit_code == 0, shown.output
    assert "upstream: harbour:https://harbour.example.org/?p=1204" in shown.output


def test_poll_names_an_unknown_feed(
    db: Database, config_path: Path, run: Callable[..., Result]
) -> None:
    add_sources(config_path, 'url = "https://blog.example.org/feed/"\nsection = "world"')

    result = run("upstream", "poll", "nope")

    assert result.exit_code == 2
    assert 'no upstream feed "nope"' in result.output
    assert "https://blog.example.org/feed/" in result.output


def test_commands_without_feeds_say_how_to_add_one(run: Callable[..., Result]) -> None:
    for command in ("poll", "list"):
        result = run("upstream", command)
        assert result.exit_code == 0
        assert "add [[upstream.sources]] to config.toml" in result.output


def test_the_shipped_config_polls_nothing_but_documents_the_keys() -> None:
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    settings = config.parse(__import__("tomllib").loads(text), ROOT / "config.toml")

    assert settings.upstream.sources == ()
    assert (settings.upstream.interval_minutes, settings.upstream.timeout) == (30, 20)
    assert settings.upstream.max_backoff_hours == 24
    assert "# [[upstream.sources]]" in text


def test_sources_are_validated(tmp_path: Path) -> None:
    path = write_config(tmp_path, "sqlite:///var/test.db")
    add_sources(
        path,
        'url = "https://blog.example.org/feed/"\nsection = "World News"',
        'url = "https://lab.example.net/feed.atom"\nsection = "science"\nname = "lab"',
    )

    settings = config.load(path)

    first, second = settings.upstream.sources
    assert first.url == "https://blog.example.org/feed/"  # the trailing slash is kept
    assert (first.key, first.section, first.enabled) == (first.url, "world-news", True)
    assert second.key == "lab"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            'url = "ftp://blog.example.org/feed"\nsection = "world"',
            'upstream.sources[0].url: "ftp://blog.example.org/feed" is not an absolute http(s) URL',
        ),
        ('url = "https://a.example/feed"', "upstream.sources[0].section: required key is missing"),
        (
            'url = "https://a.example/feed"\nsection = "world"\nname = "Not A Slug"',
            'upstream.sources[0].name: "Not A Slug" is not a slug',
        ),
    ],
)
def test_bad_sources_are_named(tmp_path: Path, table: str, message: str) -> None:
    path = write_config(tmp_path, "sqlite:///var/test.db")
    add_sources(path, table)

    with pytest.raises(ConfigError) as caught:
        config.load(path)

    assert message in str(caught.value)


def test_a_feed_listed_twice_is_refused(tmp_path: Path) -> None:
    path = write_config(tmp_path, "sqlite:///var/test.db")
    table = 'url = "https://blog.example.org/feed/"\nsection = "world"'
    add_sources(path, table, table)

    with pytest.raises(ConfigError, match="is listed twice"):
        config.load(path)
