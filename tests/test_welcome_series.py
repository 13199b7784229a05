"""The welcome series (`campaigns.welcome`, the `welcome:send` job): each step at most once
per subscriber through the one engine, with a clock moved by hand across restarts (a new
Database and job context each time), unsubscribes, suppressions, edits of the series and
runs lost to a crash."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from conftest import write_config
from dispatch import config, jobs
from dispatch.campaigns.welcome import run_series
from dispatch.campaigns.welcome_report import series_summary, steps_given
from dispatch.config import Settings
from dispatch.errors import ConfigError
from dispatch.jobs import JobContext, Run
from dispatch.lists import sync_lists
from dispatch.logs import FIELDS
from dispatch.store import migrate
from dispatch.store.database import Database
from dispatch.store.models import (
    Campaign,
    CampaignKind,
    Delivery,
    DeliveryStatus,
    MailingList,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    Suppression,
    WelcomeSend,
)
from dispatch.store.types import utcnow
from dispatch.subscribers.csv_import import import_subscribers
from dispatch.subscribers.membership import add_subscriber, suppress_address
from dispatch.subscribers.optin import confirm
from dispatch.tokens import ListClaim
from support.campaigns import FakeClock, add_article
from support.scheduling import job_context, senders, settle

LIST = "morning-briefing"
T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
SERIES = """
[[lists.welcome]]
key = "welcome"
after = "0d"
template = "welcome"

[[lists.welcome]]
key = "day-3"
after = "3d"
article = "getting-started"

[[lists.welcome]]
key = "day-7"
after = "7d"
template = "tips"
subject = "Three things to try"
"""


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "welcome-series-secret")


def with_series(folder: Path, database_url: str, series: str = SERIES) -> Path:
    """The default config with `series` as the first list's steps and a `tips` template."""
    path = write_config(folder, database_url, {r"^# dir = \"templates-local\".*$": 'dir = "tl"'})
    head, first, rest = path.read_text(encoding="utf-8").split("\n[[lists]]\n", 2)
    body = f"{head}\n[[lists]]\n{first}{series}\n[[lists]]\n{rest}"
    path.write_text(body, encoding="utf-8")
    email = folder / "tl" / "email"
    email.mkdir(parents=True, exist_ok=True)
    (email / "tips.mjml.j2").write_text(
        '{% extends "email/base.mjml.j2" %}{% block content %}<mj-section><mj-column>'
        '<mj-text>{{ subject }}: read <a href="https://example.org/tips">the tips</a>.'
        "</mj-text></mj-column></mj-section>{% endblock %}",
        encoding="utf-8",
    )
    (email / "tips.txt.j2").write_text(
        '{% extends "email/base.txt.j2" %}{% block content %}{{ subject }}: '
        "https://example.org/tips{% endblock %}",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def config_path(tmp_path: Path, database_url: str) -> Path:
    return with_series(tmp_path, database_url)


def confirmed(db: Database, email: str, at: datetime, list_slug: str = LIST) -> int:
    with db.session() as session:
        list_id = session.scalar(select(MailingList.id).where(MailingList.slug == list_slug))
        person = Subscriber(email=email, name="", attributes={}, created_at=at, updated_at=at)
        session.add(person)
        session.flush()
        session.add(
            Subscription(
                subscriber_id=person.id,
                list_id=list_id,
                status=SubscriptionStatus.CONFIRMED,
                created_at=at,
                updated_at=at,
                confirmed_at=at,
            )
        )
        return person.id


def unsubscribed(db: Database, email: str, at: datetime) -> None:
    with db.session() as session:
        row = session.scalars(
            select(Subscription).join(Subscriber).where(Subscriber.email == email)
        ).one()
        row.status, row.unsubscribed_at = SubscriptionStatus.UNSUBSCRIBED, at


class Restarts:
    """A new Database and job context per "process", all on one hand-moved clock; every
    message any of them sent, by recipient and subject."""

    def __init__(self, settings: Settings, clock: FakeClock) -> None:
        self.settings, self.clock = settings, clock
        self.got: Counter[tuple[str, str]] = Counter()
        self.contexts: list[tuple[Database, JobContext]] = []

    def process(self, settings: Settings | None = None) -> JobContext:
        self.stop()
        db = Database((settings or self.settings).database)
        context = job_context(db, settings or self.settings, self.clock)
        self.contexts.append((db, context))
        return context

    def welcome_job(self, settings: Settings | None = None) -> list[int]:
        context = self.process(settings)
        started = jobs.send_welcome(run=Run(context, self.clock()))
        settle(context)
        self._collect(context)
        return started

    def _collect(self, context: JobContext) -> None:
        for sender in senders(context).made:
            for sent in sender.sent:
                message = message_from_bytes(sent.data, policy=default)
                self.got[(str(message["To"]), str(message["Subject"]))] += 1
            sender.sent.clear()

    def stop(self) -> None:
        for db, context in self.contexts:
            context.executor.close()
            db.dispose()
        self.contexts.clear()


def given(db: Database) -> Counter[tuple[str, str]]:
    with db.session() as session:
        rows = session.execute(
            select(Subscriber.email, WelcomeSend.step_key).join(
                Subscriber, Subscriber.id == WelcomeSend.subscriber_id
            )
        )
        return Counter((email, key) for email, key in rows)


def test_each_step_once_per_person_across_restarts_unsubscribes_and_edits(
    db: Database, settings: Settings, tmp_path: Path, database_url: str
) -> None:
    clock = FakeClock(T0)
    add_article(db, "getting-started", title="Getting started", published_at=T0 - timedelta(days=1))
    runs = Restarts(settings, clock)
    try:
        runs.welcome_job()  # the steps are first seen now
        confirmed(db, "ann@example.com", T0)
        assert len(runs.welcome_job()) == 1
        assert runs.welcome_job() == []  # nothing new at the same time, in a new process
        assert runs.got == {("ann@example.com", "Welcome to Morning Briefing"): 1}

        clock.now = T0 + timedelta(days=1)
        confirmed(db, "bo@example.com", clock.now)
        runs.welcome_job()
        clock.now = T0 + timedelta(days=2)
        unsubscribed(db, "bo@example.com", clock.now)  # before bo's day 3
        clock.now = T0 + timedelta(days=3, minutes=1)
        runs.welcome_job()
        clock.now = T0 + timedelta(days=4, minutes=1)
        runs.welcome_job()
        assert runs.got == {
            ("ann@example.com", "Welcome to Morning Briefing"): 1,
            ("bo@example.com", "Welcome to Morning Briefing"): 1,
            ("ann@example.com", "Getting started"): 1,
        }

        # The editor moves day 3 to day 2, points it elsewhere, and adds a day-5 step.
        add_article(db, "new-start", title="A new start", published_at=T0)
        edited = SERIES.replace(
            'after = "3d"\narticle = "getting-started"', 'after = "2d"\narticle = "new-start"'
        )
        edited += '\n[[lists.welcome]]\nkey = "day-5"\nafter = "5d"\narticle = "new-start"\n'
        (tmp_path / "edited").mkdir()
        later = config.load(with_series(tmp_path / "edited", database_url, edited))
        clock.now = T0 + timedelta(days=5, minutes=1)
        runs.welcome_job(later)
        clock.now = T0 + timedelta(days=7, minutes=1)
        runs.welcome_job(later)
        runs.welcome_job(later)
    finally:
        runs.stop()
    assert runs.got == {
        ("ann@example.com", "Welcome to Morning Briefing"): 1,
        ("bo@example.com", "Welcome to Morning Briefing"): 1,
        ("ann@example.com", "Getting started"): 1,  # day 3 not again after the edit
        ("ann@example.com", "A new start"): 1,  # day 5, added later
        ("ann@example.com", "Three things to try"): 1,
    }
    assert set(given(db).values()) == {1}
    with db.session() as session:
        summary = {s.key: (s.given, s.configured) for s in series_summary(session, later, LIST)}
        got = steps_given(session, LIST, ["ann@example.com", "bo@example.com"])
    assert summary == {
        "welcome": (2, True),
        "day-3": (1, True),
        "day-7": (1, True),
        "day-5": (1, True),
    }
    assert got == {
        "ann@example.com": ["welcome", "day-3", "day-5", "day-7"],
        "bo@example.com": ["welcome"],
    }
    from typer.testing import CliRunner

    from dispatch.cli import app

    shown = CliRunner().invoke(
        app, ["--config", str(settings.path), "subscribers", "show", "ann@example.com"]
    )
    assert shown.exit_code == 0, shown.output
    assert f"{LIST}: confirmed · welcome steps: welcome, day-3, day-5, day-7" in shown.output


def test_a_step_started_before_a_crash_is_resumed_never_repeated(
    db: Database, settings: Settings
) -> None:
    clock = FakeClock(T0)
    run_series(db, settings, clock())
    for n in range(30):
        confirmed(db, f"p{n}@example.com", T0)
    # The "crash": the step's campaign and its ledger were committed, nothing was sent.
    (campaign_id,) = run_series(db, settings, clock())
    with db.session() as session:
        campaign = session.get_one(Campaign, campaign_id)
        assert campaign.kind == CampaignKind.WELCOME and campaign.recipients_total == 30
        assert campaign.welcome_step == "welcome"
    runs = Restarts(settings, clock)
    try:
        assert runs.welcome_job() == []  # the next process does not give the step again…
        context = runs.process()
        jobs.run_due_campaigns(run=Run(context, clock()))  # …it finishes the send
        settle(context)
        runs._collect(context)
    finally:
        runs.stop()
    assert len(runs.got) == 30 and set(runs.got.values()) == {1}
    with db.session() as session:
        statuses = session.scalars(
            select(Delivery.status).where(Delivery.campaign_id == campaign_id)
        ).all()
    assert set(statuses) == {DeliveryStatus.SENT}


def test_concurrent_runs_give_each_person_the_step_once(db: Database, settings: Settings) -> None:
    clock = FakeClock(T0)
    run_series(db, settings, clock())
    for n in range(200):
        confirmed(db, f"c{n}@example.com", T0)
    barrier = threading.Barrier(3)
    started: list[int] = []
    errors: list[BaseException] = []

    def one() -> None:
        own = Database(settings.database)
        try:
            barrier.wait()
            started.extend(run_series(own, settings, clock()))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=one) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with db.session() as session:
        rows = session.scalars(
            select(Delivery.email).where(Delivery.campaign_id.in_(started))
        ).all()
    assert len(rows) == 200 and len(set(rows)) == 200
    assert set(given(db).values()) == {1}


def test_old_subscribers_suppressed_and_unsubscribed_people_get_nothing(
    db: Database, settings: Settings
) -> None:
    clock = FakeClock(T0)
    confirmed(db, "old@example.com", T0 - timedelta(days=30))  # before the series existed
    confirmed(db, "gone@example.com", T0)
    confirmed(db, "left@example.com", T0)
    confirmed(db, "new@example.com", T0)
    with db.session() as session:
        suppress_address(session, "gone@example.com", reason="bounce")
    unsubscribed(db, "left@example.com", T0)
    runs = Restarts(settings, clock)
    try:
        runs.welcome_job()
        clock.now = T0 + timedelta(days=40)
        runs.welcome_job()
    finally:
        runs.stop()
    # …and steps more than 30 days overdue (nothing ran for 40 days) are not sent late.
    assert runs.got == {("new@example.com", "Welcome to Morning Briefing"): 1}
    with db.session() as session:
        assert session.get(Suppression, "gone@example.com") is not None


def test_an_imported_audience_is_not_welcomed_but_who_confirms_by_link_is(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    """`make run`'s samples, a Mailchimp audience moved over, a `--confirmed` file: none
    of them is a new reader. A pending person from a file who confirms by their own link
    is, and a single person an editor adds as confirmed is too."""
    clock = FakeClock(utcnow())
    add_article(db, "getting-started", title="Getting started", published_at=clock.now)
    runs = Restarts(settings, clock)
    try:
        runs.welcome_job()  # the series is first seen now
        plain = tmp_path / "people.csv"
        plain.write_text("email,name\nmoved@example.com,Moved\n", encoding="utf-8")
        import_subscribers(db, plain, LIST, confirmed=True)
        pending = tmp_path / "pending.csv"
        pending.write_text("email,name\nlater@example.com,Later\n", encoding="utf-8")
        import_subscribers(db, pending, LIST)
        export = tmp_path / "subscribed_members_export.csv"
        stamp = clock.now.strftime("%Y-%m-%d %H:%M:%S")
        export.write_text(
            "Email Address,First Name,Last Name,OPTIN_TIME,CONFIRM_TIME\n"
            f"chimp@example.com,Chimp,Reader,{stamp},{stamp}\n",
            encoding="utf-8",
        )
        assert import_subscribers(db, export, LIST, source="mailchimp").subscribed == 1
        with db.session() as session:
            add_subscriber(session, LIST, "added@example.com", confirmed=True)
            later = session.scalar(
                select(Subscriber.id).where(Subscriber.email == "later@example.com")
            )
            assert confirm(session, ListClaim(later, LIST, key_of(session, later)), clock.now).mail
            vias = dict(
                session.execute(
                    select(Subscriber.email, Subscription.confirmed_via).join(Subscription)
                ).all()
            )
        assert vias == {
            "moved@example.com": "import",
            "chimp@example.com": "import",
            "later@example.com": None,
            "added@example.com": None,
        }
        clock.now += timedelta(days=8)
        runs.welcome_job()
    finally:
        runs.stop()
    assert {to for to, _ in runs.got} == {"Later <later@example.com>", "added@example.com"}
    assert set(given(db)) == {
        (email, key)
        for email in ("later@example.com", "added@example.com")
        for key in ("welcome", "day-3", "day-7")
    }


def key_of(session: Session, subscriber_id: int) -> str:
    return session.get_one(Subscriber, subscriber_id).token_key


def test_a_step_that_cannot_be_made_is_logged_and_the_others_go_on(
    db: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(T0)
    run_series(db, settings, T0 - timedelta(days=3))
    confirmed(db, "ann@example.com", T0 - timedelta(days=3))  # due for day 3 and welcome
    started = run_series(db, settings, clock())  # no article "getting-started" yet
    assert len(started) == 1
    failed = [getattr(r, FIELDS) for r in caplog.records if r.getMessage() == "welcome.step_failed"]
    assert failed == [
        {
            "event": "welcome.step_failed",
            "list": LIST,
            "step": "day-3",
            "error": 'no article with slug "getting-started" (see `dispatch articles list`)',
        }
    ]
    add_article(db, "getting-started", published_at=T0 - timedelta(days=5))
    assert len(run_series(db, settings, clock())) == 1  # the next run makes it
    assert given(db) == {("ann@example.com", "welcome"): 1, ("ann@example.com", "day-3"): 1}


def test_no_series_configured_means_the_built_in_welcome_at_confirmation(
    tmp_path: Path, database_url: str
) -> None:
    from dispatch.delivery.memory import MemorySender
    from dispatch.subscribers import optin
    from dispatch.subscribers.transactional import Mailer
    from dispatch.tokens import ListClaim

    settings = config.load(write_config(tmp_path, database_url))
    db = Database(settings.database)
    migrate.upgrade(db.engine)
    with db.session() as session:
        sync_lists(session, settings)
    sender = MemorySender()
    try:
        with db.session() as session:
            (confirm,) = optin.sign_up(session, "Zoë@example.com", "Zoë", [LIST], T0)
        with db.session() as session:
            result = optin.confirm(
                session, ListClaim(confirm.subscriber_id, LIST, confirm.token_key), T0
            )
        assert result.mail is not None
        assert Mailer(settings, sender, clock=lambda: T0).deliver(db, [result.mail]) == 1
        assert Mailer(settings, sender, clock=lambda: T0).deliver(db, [result.mail]) == 0
        with db.session() as session:
            campaign = session.scalars(select(Campaign)).one()
            assert (campaign.kind, campaign.template) == (CampaignKind.WELCOME, "welcome")
    finally:
        db.dispose()
    (sent,) = sender.sent
    message = message_from_bytes(sent.data, policy=default)
    assert message["Subject"] == "Welcome to Morning Briefing"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.parametrize(
    ("steps", "error"),
    [
        ('key = "a"\ntemplate = "welcome"\narticle = "x"', "either template"),
        ('key = "a"', "either template"),
        ('key = "a"\ntemplate = "tips"', "needs subject"),
        ('key = "a"\nafter = "3 days"\ntemplate = "welcome"', "is not a delay"),
        ('key = "a"\ntemplate = "digest"\nsubject = "x"', "not a welcome template"),
        ('key = "A b"\ntemplate = "welcome"', "is not a slug"),
        (
            'key = "a"\ntemplate = "welcome"\n[[lists.welcome]]\nkey = "a"\ntemplate = "welcome"',
            'step key "a" is used twice',
        ),
    ],
)
def test_bad_steps_are_refused_naming_the_key(tmp_path: Path, steps: str, error: str) -> None:
    path = with_series(tmp_path, "sqlite:///x.db", "\n[[lists.welcome]]\n" + steps + "\n")
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert "lists[0]" in str(caught.value) and error in str(caught.value)


def test_a_provider_down_at_confirmation_leaves_the_welcome_to_run_due(
    db: Database, settings: Settings
) -> None:
    from dispatch.delivery.memory import MemorySender
    from dispatch.subscribers.transactional import Mail, Mailer

    clock = FakeClock(T0)
    run_series(db, settings, clock())
    person = confirmed(db, "zoë@example.com", T0)
    down = MemorySender()
    down.unavailable("421 4.3.2 try later", temporary=True)
    mail = Mail("welcome", person, "zoë@example.com", "Zoë", LIST, 1)
    assert Mailer(settings, down, clock=clock).deliver(db, [mail]) == 0
    assert Mailer(settings, down, clock=clock).deliver(db, [mail]) == 0  # not a second step
    clock.now = T0 + timedelta(hours=1)
    runs = Restarts(settings, clock)
    try:
        context = runs.process()
        jobs.run_due_campaigns(run=Run(context, clock()))
        settle(context)
        runs._collect(context)
    finally:
        runs.stop()
    assert runs.got == {("zoë@example.com", "Welcome to Morning Briefing"): 1}
    assert given(db) == {("zoë@example.com", "welcome"): 1}


def test_the_admin_shows_the_steps_who_got_them_and_each_steps_results(
    db: Database, settings: Settings
) -> None:
    from fastapi.testclient import TestClient

    from support.admin import EDITOR, Admin, add_people
    from support.auth import Sleeps, auth_app
    from support.campaigns import engine_context, run

    add_people(db)
    clock = FakeClock(T0)
    run_series(db, settings, clock())
    confirmed(db, "ann@example.com", T0)
    confirmed(db, "bo@example.com", T0)
    (campaign_id,) = run_series(db, settings, clock())
    from dispatch.delivery.memory import MemorySender

    run(engine_context(db, settings, clock), MemorySender(), campaign_id)
    with TestClient(auth_app(settings, db, Sleeps(), clock=clock), follow_redirects=False) as c:
        admin = Admin(c, EDITOR)
        page = admin.get(f"/admin/lists/{LIST}")
        shown = admin.get(f"/admin/campaigns/{campaign_id}")
    assert page.status_code == 200
    assert '<tr data-step="welcome">' in page.text and 'data-given="2"' in page.text
    assert '<tr data-step="day-7">' in page.text and 'data-given="0"' in page.text
    assert page.text.count('data-welcome="welcome"') == 2
    assert f'href="/admin/campaigns/{campaign_id}">latest send' in page.text
    assert shown.status_code == 200 and "welcome to" in shown.text.lower()
    assert 'data-result="recipients">2<' in shown.text and 'data-result="sent">2<' in shown.text
    assert 'data-result="clicks">not tracked<' in shown.text


def test_the_one_welcome_for_several_lists_is_recorded_once(
    db: Database, settings: Settings
) -> None:
    """A confirmation link opened twice at once: both requests try to record the one
    built-in welcome for both lists; only the first gets them (and sends), the second
    gets none and sends nothing. Taking it back frees only what that call recorded."""
    from dispatch.campaigns.welcome import cover_built_in_welcome, uncover_built_in_welcome

    person = confirmed(db, "two@example.com", T0)
    confirmed_too = T0 + timedelta(seconds=1)
    with db.session() as session:
        weekly = session.scalar(select(MailingList.id).where(MailingList.slug == "weekly-review"))
        session.add(
            Subscription(
                subscriber_id=person,
                list_id=weekly,
                status=SubscriptionStatus.CONFIRMED,
                created_at=confirmed_too,
                updated_at=confirmed_too,
                confirmed_at=confirmed_too,
            )
        )
    plain = [LIST, "weekly-review"]
    no_series = settings.model_copy(
        update={"lists": tuple(item.model_copy(update={"welcome": ()}) for item in settings.lists)}
    )
    first = cover_built_in_welcome(db, no_series, plain, person, T0)
    second = cover_built_in_welcome(db, no_series, plain, person, T0 + timedelta(seconds=2))
    assert len(first) == 2 and second == []
    uncover_built_in_welcome(db, first, person, T0 + timedelta(seconds=2))  # not its own
    assert given(db) == Counter({("two@example.com", "welcome"): 2})
    uncover_built_in_welcome(db, first, person, T0)
    assert given(db) == Counter()
