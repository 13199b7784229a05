"""Tags and segments at work: the CLI, /api/segments, tags in the API and CSV imports,
and campaigns that reach only a segment (recipients frozen by it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from typer.testing import Result

from conftest import write_config
from dispatch import config
from dispatch.config import Settings
from dispatch.errors import TagError
from dispatch.lists import sync_lists
from dispatch.store import migrate
from dispatch.store.database import Database
from dispatch.store.models import Campaign, Delivery, Subscriber, SubscriberTag
from dispatch.subscribers import export_to_file, import_subscribers
from dispatch.subscribers.tags import apply_tags, set_tags, split_tags, tags_by_subscriber
from dispatch.tokens import Tokens
from dispatch.web import create_app
from support.api import SECRET, api_client
from support.campaigns import add_article, add_subscribers

LIST = "morning-briefing"
OFFER = 'preference_tags = ["Weekly", "daily"]'
Cli = Callable[..., Result]


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", SECRET)


def tag(db: Database, emails: list[str], *tags: str) -> None:
    with db.session() as session:
        ids = session.scalars(select(Subscriber.id).where(Subscriber.email.in_(emails)))
        apply_tags(session, {person: tags for person in ids})


def test_tags_are_normalised_and_refused_with_reasons() -> None:
    assert split_tags(" Lisbon ; PORTO,, weekly ;lisbon") == ["lisbon", "porto", "weekly"]
    assert split_tags("  ") == []
    for bad, says in [("x" * 101, "at most 100"), ("a\x07b", "control character")]:
        with pytest.raises(TagError, match=says):
            split_tags(bad)


def test_set_and_apply_tags_replace_or_add(db: Database) -> None:
    emails = add_subscribers(db, LIST, 2)
    with db.session() as session:
        one, two = session.scalars(select(Subscriber.id).order_by(Subscriber.id))
        assert set_tags(session, one, ["B", "a", "b"]) == ["a", "b"]
        apply_tags(session, {one: ["c"], two: ["a"]})
        set_tags(session, two, ["z"])
        assert tags_by_subscriber(session, [one, two]) == {one: ["a", "b", "c"], two: ["z"]}
        with pytest.raises(TagError, match="at most 100"):
            apply_tags(session, {one: [f"t{i}" for i in range(99)]})
    assert emails


def test_cli_segments_create_count_show_list_delete(cli: Cli, db: Database) -> None:
    emails = add_subscribers(db, LIST, 5)
    tag(db, emails[:2], "weekly")
    made = cli("segments", "create", "Weekly", 'tag = "weekly"', "--list", LIST)
    assert made.exit_code == 0, made.output
    assert 'Segment "Weekly" of morning-briefing: 2 recipients now.' in made.output
    assert cli("segments", "count", "Weekly").output.strip() == "2"
    counted = cli("segments", "count", "--list", LIST, "--expr", 'not tag = "weekly"')
    assert counted.output.strip() == "3"
    shown = cli("segments", "show", f"{LIST}/Weekly")
    assert "recipients: 2" in shown.output and 'tag = "weekly"' in shown.output
    assert "Weekly" in cli("segments", "list").output
    again = cli("segments", "create", "Weekly", 'tag = "x"', "--list", LIST)
    assert again.exit_code == 2 and "already has a segment" in again.output
    shown_person = cli("subscribers", "show", emails[0])
    assert "Tags: weekly" in shown_person.output
    assert cli("segments", "delete", "Weekly", "--yes").exit_code == 0
    missing = cli("segments", "show", "Weekly")
    assert missing.exit_code == 2 and 'no segment "Weekly"' in missing.output


def test_cli_shows_a_parse_error_under_the_expression(cli: Cli, db: Database) -> None:
    result = cli("segments", "create", "Bad", 'tag = "x"; DROP TABLE x', "--list", LIST)
    assert result.exit_code == 2
    assert 'tag = "x"; DROP TABLE x\n' in result.output
    assert "\n           ^\n" in result.output  # under the `;`, column 10
    assert 'column 10: unexpected ";"' in result.output
    assert cli("segments", "list").output.count("Bad") == 0


def test_send_to_a_segment_counts_asks_and_reaches_only_it(
    cli: Cli, db: Database, settings: Settings
) -> None:
    emails = add_subscribers(db, LIST, 6)
    tag(db, emails[1:4], "lisbon")
    add_article(db, "story", title="Story")
    assert cli("segments", "create", "Lisbon", 'tag = "lisbon"', "--list", LIST).exit_code == 0
    result = cli("send", "article", "story", "--list", LIST, "--segment", "Lisbon", input="y\n")
    assert result.exit_code == 0, result.output
    assert '3 recipients in the segment "Lisbon" of Morning Briefing?' in result.output
    with db.session() as session:
        sent = set(session.scalars(select(Delivery.email)))
        campaign = session.scalars(select(Campaign)).one()
        assert campaign.segment_expression == 'tag = "lisbon"'
    assert sent == set(emails[1:4])
    # Deleting the segment leaves the campaign's copy of its expression.
    assert cli("segments", "delete", "Lisbon", "--yes").exit_code == 0
    with db.session() as session:
        campaign = session.scalars(select(Campaign)).one()
        assert campaign.segment_id is None and campaign.segment_expression == 'tag = "lisbon"'


def test_send_to_an_unknown_or_empty_segment_is_refused(cli: Cli, db: Database) -> None:
    add_subscribers(db, LIST, 2)
    add_article(db, "story", title="Story")
    unknown = cli("send", "article", "story", "--list", LIST, "--segment", "Nope", "--yes")
    assert unknown.exit_code == 2 and 'no segment "Nope"' in unknown.output
    assert cli("segments", "create", "Nobody", 'tag = "none"', "--list", LIST).exit_code == 0
    empty = cli("send", "article", "story", "--list", LIST, "--segment", "Nobody", "--yes")
    assert empty.exit_code == 2 and "nobody in the segment" in empty.output
    with db.session() as session:
        assert session.scalars(select(Campaign)).all() == []


def test_api_segments_crud_count_and_campaign(settings: Settings, db: Database) -> None:
    emails = add_subscribers(db, LIST, 4)
    tag(db, emails[:1], "vip")
    add_article(db, "story", title="Story")
    with api_client(settings, db) as client:
        bad = client.post(
            "/api/segments", json={"list": LIST, "name": "X", "expression": 'tag = "a" --'}
        )
        assert bad.status_code == 422
        assert bad.json()["error"] == {
            "message": 'column 11: unexpected "--"',
            "field": "body.expression",
        }
        made = client.post(
            "/api/segments", json={"list": LIST, "name": "VIP", "expression": 'tag = "VIP"'}
        )
        assert made.status_code == 201, made.text
        segment = made.json()
        assert segment["recipients"] == 1 and segment["list"] == LIST
        counted = client.post(
            "/api/segments/count", json={"list": LIST, "expression": 'tag != "vip"'}
        )
        assert counted.json()["recipients"] == 3
        patched = client.patch(
            f"/api/segments/{segment['id']}", json={"expression": "subscribed after 1 day ago"}
        )
        assert patched.json()["recipients"] == 4
        client.patch(f"/api/segments/{segment['id']}", json={"expression": 'tag = "vip"'})
        assert [s["name"] for s in client.get(f"/api/segments?list={LIST}").json()] == ["VIP"]
        created = client.post(
            "/api/campaigns",
            json={"kind": "article", "list": LIST, "article": "story", "segment": "VIP"},
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["recipients"] == 1 and body["segment"] == "VIP"
        assert body["segment_expression"] == 'tag = "vip"'
        missing = client.post(
            "/api/campaigns",
            json={"kind": "article", "list": LIST, "article": "story", "segment": "Nope"},
        )
        assert missing.status_code == 404 and missing.json()["error"]["field"] == "body.segment"
        assert client.delete(f"/api/segments/{segment['id']}").status_code == 204
        assert client.get(f"/api/segments/{segment['id']}").status_code == 404


def test_api_subscriber_tags(settings: Settings, db: Database) -> None:
    with api_client(settings, db) as client:
        made = client.post(
            "/api/subscribers", json={"email": "a@example.org", "tags": ["Lisbon", "lisbon", "Pro"]}
        )
        assert made.status_code == 201, made.text
        assert made.json()["tags"] == ["lisbon", "pro"]
        ref = made.json()["id"]
        patched = client.patch(f"/api/subscribers/{ref}", json={"tags": ["weekly"]})
        assert patched.json()["tags"] == ["weekly"]
        kept = client.patch(f"/api/subscribers/{ref}", json={"name": "Ann"})
        assert kept.json()["tags"] == ["weekly"]
        bad = client.patch(f"/api/subscribers/{ref}", json={"tags": ["a;b"]})
        assert bad.status_code == 422 and "separate tags" in bad.json()["error"]["message"]
        assert client.get(f"/api/subscribers/{ref}").json()["tags"] == ["weekly"]


def test_csv_import_reads_a_tags_column(tmp_path: Path, db: Database) -> None:
    source = tmp_path / "people.csv"
    source.write_text(
        "email,name,Tags,city\n"
        "a@example.org,Ann,Lisbon; weekly,Lisbon\n"
        'b@example.org,Bob,"porto,weekly",Porto\n'
        "c@example.org,Cy,,Faro\n"
        "d@example.org,Di,a\x01b,Faro\n"
        "a@example.org,Ann,VIP,Lisbon\n",
        encoding="utf-8",
    )
    summary = import_subscribers(db, source, LIST, confirmed=True)
    assert summary.rejected == 1  # the control character
    with db.session() as session:
        people = {p.email: p for p in session.scalars(select(Subscriber))}
        tags = tags_by_subscriber(session, [p.id for p in people.values()])
    assert tags[people["a@example.org"].id] == ["lisbon", "vip", "weekly"]
    assert tags[people["b@example.org"].id] == ["porto", "weekly"]
    assert people["c@example.org"].id not in tags
    assert "tags" not in people["a@example.org"].attributes
    assert people["a@example.org"].attributes == {"city": "Lisbon"}


def test_preferences_page_offers_the_lists_tags_and_changes_only_those(
    tmp_path: Path, database_url: str
) -> None:

    path = write_config(
        tmp_path,
        database_url,
        {r"^double_opt_in = true .*$": f"double_opt_in = true\n{OFFER}"},
    )
    settings = config.load(path)
    assert settings.lists[0].preference_tags == ("weekly", "daily")
    db = Database(settings.database)
    migrate.upgrade(db.engine)
    with db.session() as session:
        sync_lists(session, settings)
    emails = add_subscribers(db, LIST, 1)
    tag(db, emails, "vip", "daily")
    with db.session() as session:
        person, key = session.execute(select(Subscriber.id, Subscriber.token_key)).one()
    url = f"/preferences/{Tokens(settings.secret_key).preferences(person, key)}"
    with TestClient(create_app(settings, db)) as client:
        page = client.get(url).text
        assert 'name="tag" value="weekly">' in page and 'name="tag" value="daily" checked>' in page
        assert 'value="vip"' not in page  # an editor's tag is never shown
        saved = client.post(
            url, data={"action": "save", "name": "", "list": [LIST], "tag": ["weekly", "staff"]}
        )
        assert saved.status_code == 200 and "Your choices are saved." in saved.text
    with db.session() as session:
        assert tags_by_subscriber(session, [person])[person] == ["vip", "weekly"]
    db.dispose()


def test_export_writes_tags_that_import_back(tmp_path: Path, db: Database) -> None:
    emails = add_subscribers(db, LIST, 3)
    tag(db, emails[:1], "weekly", "lisbon")
    out = tmp_path / "out.csv"
    with db.session() as session:
        assert export_to_file(session, LIST, out) == 3
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "email,name,status,subscribed_at,tags,city"
    assert lines[1].endswith(",lisbon;weekly,Lisbon") and lines[2].endswith(",,Lisbon")
    with db.session() as session:
        session.execute(delete(SubscriberTag))
    import_subscribers(db, out, "weekly-review", confirmed=True)
    with db.session() as session:
        first = session.scalar(select(Subscriber.id).where(Subscriber.email == emails[0]))
        assert tags_by_subscriber(session, [first]) == {first: ["lisbon", "weekly"]}
