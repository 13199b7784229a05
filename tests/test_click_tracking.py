"""Click tracking (`campaigns.tracking`, `/r/<token>`) and campaign results: links rewritten
only where the list opts in, redirects only to the recorded URL (forged or altered tokens
get a 404, never a redirect), clicks counted per link and once per person and link when
per-person tracking is on; unsubscribes counted for the campaign whose link was used."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from conftest import write_config
from dispatch import config
from dispatch.campaigns.results import campaign_results
from dispatch.config import Settings
from dispatch.delivery.memory import MemorySender
from dispatch.store.database import Database
from dispatch.store.models import Campaign, CampaignLink, LinkClick, Unsubscribe
from dispatch.tokens import Tokens
from dispatch.web import create_app
from support.api import SECRET, api_client
from support.campaigns import FakeClock, add_subscribers, engine_context, run

LIST = "morning-briefing"
BODY = (
    '<p>Read <a href="https://example.org/a?x=1&amp;y=2">the first</a>, '
    '<a href="https://other.example/b">the second</a> and '
    '<a href="https://example.org/a?x=1&amp;y=2">the first again</a>; '
    '<a href="mailto:desk@example.org">write</a>.</p>'
)
TRACKING = {r"^click_tracking = false .*$": "click_tracking = true"}
PER_PERSON = TRACKING | {
    r"^click_tracking_per_person = false .*$": "click_tracking_per_person = true"
}


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", SECRET)


@pytest.fixture
def config_path(tmp_path: Path, database_url: str) -> Path:
    return write_config(tmp_path, database_url, TRACKING)


def sent_campaign(
    db: Database, settings: Settings, people: int = 3
) -> tuple[int, list[EmailMessage]]:
    """A one-off of an article with links to `people` subscribers, sent; its id and mail."""
    from support.campaigns import add_article

    add_subscribers(db, LIST, people)
    add_article(db, "links", body=BODY, title="Links")
    clock = FakeClock()
    with db.session() as session:
        from dispatch.campaigns import create_article
        from dispatch.campaigns.start import start_campaign

        created = create_article(session, settings, "links", LIST, clock())
        start_campaign(session, created.campaign, settings, clock())
        campaign_id = created.campaign.id
    sender = MemorySender()
    run(engine_context(db, settings, clock), sender, campaign_id)
    return campaign_id, [message_from_bytes(s.data, policy=default) for s in sender.sent]


def html_links(message: EmailMessage) -> list[str]:
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    return [h.replace("&amp;", "&") for h in re.findall(r'href="([^"]+)"', html)]


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def tracked(links: list[str], settings: Settings) -> list[str]:
    return [link for link in links if link.startswith(f"{settings.site.base_url}/r/")]


def path(url: str) -> str:
    return urlsplit(url).path


def preferences(message: EmailMessage) -> str:
    found = re.search(r"https?://\S+/preferences/[\w.-]+", text_of(message))
    assert found is not None
    return path(found.group(0))


@pytest.fixture
def web(settings: Settings, db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db), follow_redirects=False) as client:
        yield client


def test_links_go_through_signed_redirects_counted_per_link(
    web: TestClient, db: Database, settings: Settings
) -> None:
    campaign_id, mails = sent_campaign(db, settings)
    first = mails[0]
    links = list(dict.fromkeys(tracked(html_links(first), settings)))
    every = html_links(first)
    assert "mailto:desk@example.org" in every  # left alone, as are the signed links
    assert not any(
        link.startswith(("https://example.org/a", "https://other.example")) for link in every
    )
    assert not any(u in text_of(first) for u in ("https://example.org/a", "https://other.example"))
    assert "/unsubscribe/" in str(first["List-Unsubscribe"])
    # Aggregate only: every reader's copy carries the same tokens.
    assert set(tracked(html_links(mails[1]), settings)) == set(links)

    targets = {}
    for link in links:
        answer = web.get(path(link))
        assert answer.status_code == 302 and "set-cookie" not in answer.headers
        assert answer.headers["referrer-policy"] == "no-referrer"
        targets[answer.headers["location"]] = link
    assert {"https://example.org/a?x=1&y=2", "https://other.example/b"} <= set(targets)
    assert len(targets) == len(links)  # one link, one target
    web.get(path(targets["https://example.org/a?x=1&y=2"]))
    with db.session() as session:
        counts = dict(
            session.execute(
                select(CampaignLink.url, CampaignLink.clicks).where(
                    CampaignLink.campaign_id == campaign_id
                )
            ).all()
        )
        assert session.scalars(select(LinkClick)).all() == []  # nobody recorded by name
    assert counts == {url: 2 if url == "https://example.org/a?x=1&y=2" else 1 for url in targets}


def test_forged_altered_or_unknown_tokens_never_redirect(
    web: TestClient, db: Database, settings: Settings
) -> None:
    campaign_id, mails = sent_campaign(db, settings, people=1)
    (link, *_) = tracked(html_links(mails[0]), settings)
    token = path(link).rsplit("/", 1)[1]
    forged = Tokens("not the secret").click(campaign_id, 0)
    altered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    unknown = Tokens(SECRET).click(campaign_id, 99)  # signed, but no such link
    other_purpose = Tokens(SECRET).unsubscribe(1, LIST, "key")
    for bad in (forged, altered, unknown, other_purpose, "x" * 5000, "%2F%2Fevil.example", "é"):
        answer = web.get(f"/r/{bad}")
        assert answer.status_code == 404, bad
        assert "location" not in answer.headers
    with db.session() as session:
        assert sum(session.scalars(select(CampaignLink.clicks)).all()) == 0


def test_links_are_left_alone_unless_the_list_opts_in(tmp_path: Path, database_url: str) -> None:
    settings = config.load(write_config(tmp_path, database_url))
    from dispatch.lists import sync_lists
    from dispatch.store import migrate

    db = Database(settings.database)
    migrate.upgrade(db.engine)
    with db.session() as session:
        sync_lists(session, settings)
    try:
        campaign_id, mails = sent_campaign(db, settings, people=1)
        assert "https://example.org/a?x=1&y=2" in html_links(mails[0])
        assert tracked(html_links(mails[0]), settings) == []
        with db.session() as session:
            results = campaign_results(session, session.get_one(Campaign, campaign_id))
        assert not results.tracked and results.links == []
    finally:
        db.dispose()


def test_per_person_tracking_counts_each_person_once_per_link(
    tmp_path: Path, database_url: str
) -> None:
    settings = config.load(write_config(tmp_path, database_url, PER_PERSON))
    from dispatch.lists import sync_lists
    from dispatch.store import migrate

    db = Database(settings.database)
    migrate.upgrade(db.engine)
    with db.session() as session:
        sync_lists(session, settings)
    try:
        campaign_id, mails = sent_campaign(db, settings, people=2)
        ann, bo = (tracked(html_links(m), settings) for m in mails)
        assert ann[0] != bo[0]  # each copy names its reader
        assert Tokens(SECRET).verify_click(path(ann[0]).rsplit("/", 1)[1]).subscriber_id
        with TestClient(create_app(settings, db), follow_redirects=False) as web:
            for url in (ann[0], ann[0], ann[0], bo[0], ann[1]):
                assert web.get(path(url)).status_code == 302
            page = web.get(preferences(mails[0]))
            with db.session() as session:
                key = session.get_one(Campaign, campaign_id).key
            archived = web.get(f"/archive/{LIST}/{key}")
        # The web copy names nobody: its links lead straight to their pages.
        assert archived.status_code == 200 and 'href="https://other.example/b"' in archived.text
        assert "/r/" not in archived.text
        assert 'data-tracking="people"' in page.text and "which links you clicked" in page.text
        with db.session() as session:
            results = campaign_results(session, session.get_one(Campaign, campaign_id))
        by_position = {link.position: (link.clicks, link.people) for link in results.links}
        assert by_position[0] == (4, 2) and by_position[1] == (1, 1)
        assert all(by_position[n] == (0, 0) for n in by_position if n > 1)
        assert results.clicks == 5
    finally:
        db.dispose()


def test_the_preferences_page_says_when_clicks_are_counted(
    web: TestClient, db: Database, settings: Settings
) -> None:
    _, mails = sent_campaign(db, settings, people=1)
    page = web.get(preferences(mails[0]))
    assert 'data-tracking="links"' in page.text and "we do not record who clicked" in page.text


def test_unsubscribes_count_for_the_campaign_with_their_time(
    web: TestClient, db: Database, settings: Settings, cli
) -> None:
    campaign_id, mails = sent_campaign(db, settings)
    url = path(str(mails[0]["List-Unsubscribe"]).strip("<>").split(">")[0])
    one_click = web.post(
        url,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200
    web.post(url, content=b"List-Unsubscribe=One-Click")  # again: counted once
    web.get(path(tracked(html_links(mails[1]), settings)[0]))
    with db.session() as session:
        (row,) = session.scalars(select(Unsubscribe)).all()
        assert row.campaign_id == campaign_id
        results = campaign_results(session, session.get_one(Campaign, campaign_id))
    assert (results.recipients, results.sent, results.failed, results.unsubscribed) == (3, 3, 0, 1)
    assert results.unsubscribed_at == [row.created_at]
    shown = cli("campaigns", "show", str(campaign_id))
    assert shown.exit_code == 0, shown.output
    assert "recipients 3, sent 3, failed 0, bounced 0, complained 0, unsubscribed 1" in shown.output
    assert "https://example.org/a?x=1&y=2" in shown.output and "Clicks: 1" in shown.output


def test_lists_left_on_the_mails_preferences_page_count_for_the_campaign(
    web: TestClient, db: Database, settings: Settings
) -> None:
    """The preferences link of a campaign's mail names the campaign: unticking the list
    there, or "leave everything", is an unsubscribe from that mail, counted once."""
    campaign_id, mails = sent_campaign(db, settings)
    first, second = (preferences(m) for m in mails[:2])
    form = {"name": "Reader", "action": "save"}  # no list ticked: leaves the offered lists
    assert (
        "Saved" in web.post(first, data=form).text or web.post(first, data=form).status_code == 200
    )
    web.post(first, data=form)  # again: nothing more to leave, nothing counted
    assert web.post(second, data={"action": "leave"}).status_code == 200
    with db.session() as session:
        rows = session.scalars(select(Unsubscribe)).all()
        results = campaign_results(session, session.get_one(Campaign, campaign_id))
    assert len(rows) == 2 and {row.campaign_id for row in rows} == {campaign_id}
    assert results.unsubscribed == 2


def test_results_in_the_api_campaign_view(settings: Settings, db: Database) -> None:
    campaign_id, _ = sent_campaign(db, settings, people=2)
    with api_client(settings, db) as client:
        body = client.get(f"/api/campaigns/{campaign_id}").json()
    results = body["results"]
    assert results["recipients"] == 2 and results["sent"] == 2 and results["tracked"] is True
    urls = [link["url"] for link in results["links"]]
    assert {"https://example.org/a?x=1&y=2", "https://other.example/b"} <= set(urls)
    assert [link["position"] for link in results["links"]] == list(range(len(urls)))
    assert results["clicks"] == 0 and results["unsubscribed_at"] == []


def test_rewriting_keeps_personal_links_punctuation_and_caps_the_links() -> None:
    from dispatch.campaigns.tracking import MAX_LINKS, track_links

    snapshot = {
        "nonce": "abc",
        "slots": [["url", "unsubscribe"]],
        "html": '<a href="https://x.org/a?b=1&amp;c=2">x</a> <a href="zzabcs0zz">u</a> '
        '<a class="k" href="https://x.org/p/zzabcs0zz">p</a> <a href="https://site/r/old">r</a>',
        "text": "See https://x.org/a?b=1&c=2. Or (https://y.org/z), https://x.org/p/zzabcs0zz",
    }
    out, urls = track_links(snapshot, "https://site", lambda n: f"https://site/r/T{n}", False)
    assert urls == ["https://x.org/a?b=1&c=2", "https://y.org/z"]
    assert out["html"].startswith('<a href="https://site/r/T0">x</a> <a href="zzabcs0zz">')
    assert 'href="https://x.org/p/zzabcs0zz"' in out["html"]  # carries a reader's value
    assert 'href="https://site/r/old"' in out["html"]  # already a redirect
    assert out["text"] == "See https://site/r/T0. Or (https://site/r/T1), https://x.org/p/zzabcs0zz"
    personal, _ = track_links(snapshot, "https://site", lambda n: "unused", True)
    assert personal["slots"][1:] == [["click", "0"], ["click", "1"]]
    assert personal["text"].startswith("See zzabcs1zz. Or (zzabcs2zz)")
    many = {**snapshot, "html": "".join(f'<a href="https://x.org/{n}">n</a>' for n in range(600))}
    capped, urls = track_links(many, "https://site", lambda n: f"https://site/r/T{n}", False)
    assert len(urls) == MAX_LINKS and 'href="https://x.org/599"' in capped["html"]


def test_a_locked_store_costs_the_count_never_the_redirect(
    tmp_path: Path, database_url: str, db: Database
) -> None:
    """The store's lock held by another connection (SQLite: the write lock; PostgreSQL: the
    link's row) past busy_timeout_ms (300 ms here): the reader still gets the 302, the
    click is logged and counted as not counted; once the lock is gone, clicks count."""
    postgres = db.engine.dialect.name == "postgresql"
    short = TRACKING | {r"^busy_timeout_ms = .*$": "busy_timeout_ms = 300"}
    settings = config.load(write_config(tmp_path, database_url, short))
    campaign_id, mails = sent_campaign(db, settings)
    link = tracked(html_links(mails[0]), settings)[0]
    with db.session() as session:
        link_id, url = session.execute(
            select(CampaignLink.id, CampaignLink.url).where(CampaignLink.campaign_id == campaign_id)
        ).first()  # type: ignore[misc]
    holder = db.engine.connect()
    try:
        if postgres:
            holder.execute(
                select(CampaignLink.id).where(CampaignLink.id == link_id).with_for_update()
            )
        else:
            holder.exec_driver_sql("BEGIN IMMEDIATE")
        app = create_app(settings, db)
        with TestClient(app, follow_redirects=False) as client:
            answer = client.get(path(link))
            assert answer.status_code == 302 and answer.headers["location"] == url
        assert app.state.metrics.clicks_not_counted._value.get() == 1
    finally:
        holder.rollback()
        holder.close()
    with TestClient(create_app(settings, db), follow_redirects=False) as client:
        assert client.get(path(link)).status_code == 302
    with db.session() as session:
        assert session.get_one(CampaignLink, link_id).clicks == 1  # the second click only


def test_a_store_that_cannot_be_read_answers_503_not_500(
    web: TestClient, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    from dispatch.web import clicks

    _, mails = sent_campaign(db, settings)
    link = tracked(html_links(mails[0]), settings)[0]

    def gone(*args: object) -> None:
        raise OperationalError("SELECT …", {}, Exception("connection refused"))

    monkeypatch.setattr(clicks, "find_link", gone)
    answer = web.get(path(link))
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
    assert "try the link again" in answer.text and "location" not in answer.headers
