"""Lists created and edited outside config.toml: the store is the truth after `init`,
config only seeds lists that are missing or that nobody edited; the key still names a
list everywhere (admin, API, subscribe form, CLI --list); sends use the stored sender."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result
from fastapi.testclient import TestClient
from sqlalchemy import select

from dispatch import config
from dispatch.config import Settings
from dispatch.errors import ListError, NotFound
from dispatch.list_editing import create_list, edit_list
from dispatch.lists import live_settings, seed_lists
from dispatch.store.database import Database
from dispatch.store.models import MailingList
from support.admin import ADMIN, EDITOR, Admin, add_people
from support.auth import Sleeps, auth_app

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
LIST = "morning-briefing"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "lists-editing-secret")


def _row(db: Database, slug: str) -> MailingList:
    with db.session() as session:
        row = session.scalar(select(MailingList).where(MailingList.slug == slug))
        assert row is not None
        session.expunge(row)
        return row


def test_config_seeds_unedited_lists_and_never_overwrites_edited_ones(
    settings: Settings, db: Database, config_path: Path
) -> None:
    with db.session() as session:
        edit_list(session, settings, LIST, {"name": "Früh-Briefing ☕", "from_name": "Désk"}, NOW)
    text = config_path.read_text(encoding="utf-8")
    text = text.replace('name = "Morning Briefing"', 'name = "Config Name"')
    text = text.replace('name = "Weekly Review"', 'name = "Weekly From Config"')
    config_path.write_text(text, encoding="utf-8")
    changed = config.load(config_path)
    with db.session() as session:
        _, report = seed_lists(session, changed)
    assert report.kept == [LIST] and report.updated == ["weekly-review"]
    assert _row(db, LIST).name == "Früh-Briefing ☕" and _row(db, LIST).from_name == "Désk"
    assert _row(db, "weekly-review").name == "Weekly From Config"  # nobody edited it


def test_init_keeps_an_admin_edit_and_says_so(
    cli: Callable[..., Result], config_path: Path, settings: Settings
) -> None:
    assert cli("init").exit_code == 0
    edited = cli("lists", "edit", LIST, "--name", "Edited Name", "--schedule", "30 6 * * 1-5")
    assert edited.exit_code == 0, edited.output
    again = cli("init")
    assert again.exit_code == 0 and "kept as editors changed them" in again.output
    assert LIST in again.output.split("config.toml ignored")[-1]
    database = Database(settings.database)
    try:
        row = _row(database, LIST)
    finally:
        database.dispose()
    assert (row.name, row.schedule) == ("Edited Name", "30 6 * * 1-5")
    made = cli(
        "lists", "create", "lisbon", "--name", "Lisboa", "--from-name", "Lx",
        "--from-email", "lx@dispatch.example",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "lisbon" in cli("lists", "list").output
    bad = cli("lists", "edit", LIST, "--schedule", "every day")
    assert bad.exit_code == 2 and "schedule" in bad.output
    missing = cli("lists", "edit", "nope", "--name", "X")
    assert missing.exit_code == 2 and 'no list "nope"' in missing.output


def test_create_and_edit_refuse_bad_input_and_lose_nothing(
    settings: Settings, db: Database
) -> None:
    good = {
        "slug": "lisbon",
        "name": "Lisboa",
        "from_name": "Lx",
        "from_email": "LX@Dispatch.example",
    }
    with db.session() as session:
        row = create_list(session, settings, good, NOW)
        assert row.from_email == "lx@dispatch.example" and row.edited_at is not None
    cases = [
        ({**good, "slug": "lisbon"}, "exists already"),
        ({**good, "slug": "Bad Key!"}, "slug"),
        ({**good, "slug": "x", "from_email": "not an address"}, "from_email"),
        ({**good, "slug": "y", "schedule": "daily"}, "schedule"),
        ({**good, "slug": "z", "timezone": "Mars/Olympus"}, "timezone"),
        ({**good, "slug": "w", "name": ""}, "name"),
    ]
    for values, problem in cases:
        with pytest.raises(ListError, match=problem), db.session() as session:
            create_list(session, settings, values, NOW)
    with pytest.raises(ListError, match="slug cannot be changed"), db.session() as session:
        edit_list(session, settings, LIST, {"slug": "renamed"}, NOW)
    with pytest.raises(NotFound), db.session() as session:
        edit_list(session, settings, "nope", {"name": "X"}, NOW)
    with db.session() as session:
        slugs = set(session.scalars(select(MailingList.slug)))
        live = live_settings(session, settings)
    assert slugs == {LIST, "weekly-review", "lisbon"}
    assert live.list("lisbon").name == "Lisboa" and live.list(LIST).name == "Morning Briefing"


@pytest.fixture
def admin(settings: Settings, db: Database) -> Iterator[Admin]:
    add_people(db)
    with TestClient(auth_app(settings, db, Sleeps()), follow_redirects=False) as client:
        yield Admin(client, ADMIN)


def test_admin_creates_and_edits_a_list_used_everywhere_by_its_key(
    admin: Admin, db: Database
) -> None:
    form = {
        "slug": "lisbon",
        "name": "Leitores de Lisboa",
        "from_name": "Lisboa",
        "from_email": "lx@dispatch.example",
        "schedule": "0 9 * * 1",
        "timezone": "Europe/Lisbon",
        "sections": "world",
        "double_opt_in": "1",
    }
    created = admin.post("/admin/lists/new", form)
    assert created.status_code == 303 and "notice=list-created" in created.headers["location"]
    # The subscribe form offers it at once, by its key.
    assert "Leitores de Lisboa" in admin.get("/subscribe?list=lisbon").text
    assert admin.get("/admin/lists/lisbon").status_code == 200
    saved = admin.post(
        f"/admin/lists/{LIST}/settings",
        {
            **form,
            "slug": "ignored",
            "name": "Morning (edited)",
            "from_email": "am@dispatch.example",
        },
    )
    assert saved.status_code == 303
    page = admin.get(f"/admin/lists/{LIST}/settings")
    assert "Morning (edited)" in page.text and "am@dispatch.example" in page.text
    assert _row(db, LIST).slug == LIST  # the key never changes
    bad = admin.post(f"/admin/lists/{LIST}/settings", {**form, "schedule": "soon"})
    assert bad.status_code == 400 and "schedule" in bad.text
    assert _row(db, LIST).schedule == "0 9 * * 1"  # the refused edit lost nothing saved
    api_lists = admin.get("/subscribe").text
    assert "Morning (edited)" in api_lists


def test_only_admins_change_lists(settings: Settings, db: Database) -> None:
    add_people(db)
    with TestClient(auth_app(settings, db, Sleeps()), follow_redirects=False) as client:
        editor = Admin(client, EDITOR)
        refused = editor.post("/admin/lists/new", {"slug": "x", "name": "X"})
        assert refused.status_code == 403


def test_mail_goes_out_with_the_stored_sender(
    admin: Admin, db: Database, settings: Settings
) -> None:
    """A confirmation for a list made in the admin, and a campaign of an edited list,
    carry the sender saved in the admin, not config.toml's."""
    import email
    from email.policy import default

    from dispatch.campaigns.create import create_note
    from dispatch.campaigns.start import start_campaign
    from support.campaigns import add_subscribers

    form = {"slug": "lisbon", "name": "Lisboa", "from_name": "Redação Lx"}
    form |= {"from_email": "lx@dispatch.example", "schedule": "0 9 * * 1", "double_opt_in": "1"}
    assert admin.post("/admin/lists/new", form).status_code == 303
    signed = admin.client.post("/subscribe", data={"email": "leitor@example.com", "list": "lisbon"})
    assert signed.status_code == 200
    (sent,) = (Path(settings.delivery.outbox.dir) / "0").glob("*.eml")
    message = email.message_from_bytes(sent.read_bytes(), policy=default)
    assert message["From"].addresses[0].addr_spec == "lx@dispatch.example"
    assert message["From"].addresses[0].display_name == "Redação Lx"
    with db.session() as session:
        edit_list(session, settings, LIST, {"from_email": "am@dispatch.example"}, NOW)
    add_subscribers(db, LIST, 2)
    with db.session() as session:
        created = create_note(session, settings, LIST, "Hello", "Body", NOW)
        start_campaign(session, created.campaign, settings, NOW)
        assert created.campaign.snapshot is not None
        assert created.campaign.snapshot["from_email"] == "am@dispatch.example"


def test_a_list_made_with_the_cli_works_with_send_list(
    cli: Callable[..., Result], tmp_path: Path, settings: Settings
) -> None:
    assert cli("init").exit_code == 0
    made = cli(
        "lists", "create", "porto", "--name", "Porto", "--from-name", "Porto desk",
        "--from-email", "porto@dispatch.example", "--single-opt-in",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    added = cli("subscribers", "add", "ana@example.com", "--list", "porto", "--confirmed")
    assert added.exit_code == 0, added.output
    body = tmp_path / "note.md"
    body.write_text("Olá **Porto**.", encoding="utf-8")
    sent = cli("send", "note", "--list", "porto", "--subject", "Olá", "--body", str(body), "-y")
    assert sent.exit_code == 0, sent.output
    files = list(Path(settings.delivery.outbox.dir).rglob("*.eml"))
    assert len(files) == 1 and b"porto@dispatch.example" in files[0].read_bytes()
