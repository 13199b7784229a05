"""Subscribe, confirm, unsubscribe and preferences over HTTP (the outbox backend: mail is
read back from `<outbox>/0/*.eml`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import select

from conftest import write_config
from dispatch.campaigns import Options
from dispatch.campaigns.create import create_article
from dispatch.campaigns.start import start_campaign
from dispatch.config import Settings
from dispatch.delivery.memory import MemorySender
from dispatch.store.database import Database
from dispatch.store.models import (
    Delivery,
    DeliveryStatus,
    Subscriber,
    Subscription,
    SubscriptionStatus,
)
from dispatch.store.types import utcnow
from dispatch.subscribers.membership import suppress_address
from dispatch.tokens import Tokens
from dispatch.web import create_app
from support.campaigns import FakeClock, add_article, add_subscribers, engine_context, run

DOUBLE, SINGLE = "morning-briefing", "weekly-review"  # weekly-review: no double opt-in here
HIGH = '"1000/minute"'


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "web-subscribe-secret")


@pytest.fixture
def config_path(tmp_path: Path, database_url: str) -> Path:
    return write_config(
        tmp_path,
        database_url,
        {
            r"^double_opt_in = true$": "double_opt_in = false",
            r"^subscribe_rate_per_ip = .*$": f"subscribe_rate_per_ip = {HIGH}",
            r"^subscribe_rate_per_address = .*$": f"subscribe_rate_per_address = {HIGH}",
        },
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(settings: Settings, db: Database, clock: FakeClock) -> Iterator[TestClient]:
    with TestClient(create_app(settings, db, clock=clock)) as test_client:
        yield test_client


def with_limits(settings: Settings, per_ip: str, per_address: str) -> Settings:
    web = settings.web.model_copy(
        update={"subscribe_rate_per_ip": per_ip, "subscribe_rate_per_address": per_address}
    )
    return settings.model_copy(update={"web": web})


def mails(settings: Settings, to: str | None = None) -> list[EmailMessage]:
    """Mail to subscribers written so far, oldest first: confirmations in `0/`, welcome
    series steps in their campaign's folder."""
    files = sorted(settings.delivery.outbox.dir.glob("*/*.eml"), key=lambda p: p.stat().st_mtime_ns)
    found = [message_from_bytes(p.read_bytes(), policy=default) for p in files]
    return [m for m in found if to is None or to in str(m["To"])]  # type: ignore[misc]


def link(message: EmailMessage, kind: str) -> str:
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    return re.search(rf"https?://\S+/{kind}/\S+", text).group(0)  # type: ignore[union-attr]


def path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def subscribe(client: TestClient, email: str, *lists: str, **extra: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/subscribe", data={"email": email, "name": "", "list": list(lists), **extra}
    )


def status(db: Database, email: str, list_slug: str) -> SubscriptionStatus | None:
    with db.session() as session:
        return session.scalar(
            select(Subscription.status)
            .join(Subscriber)
            .where(Subscriber.email == email, Subscription.mailing_list.has(slug=list_slug))
        )


def person_key(db: Database, email: str) -> tuple[int, str]:
    """A subscriber's id and link key, to sign tokens for them."""
    with db.session() as session:
        found = session.execute(
            select(Subscriber.id, Subscriber.token_key).where(Subscriber.email == email)
        ).one()
    return found.id, found.token_key


def main(html: str) -> str:
    return html[html.index("<main") : html.index("</main>")]


def test_subscribe_form_sets_no_cookie_and_needs_no_javascript(client: TestClient) -> None:
    response = client.get("/subscribe")

    assert response.status_code == 200 and "set-cookie" not in response.headers
    html = response.text
    assert '<form method="post"' in html and "<script" not in html
    assert '<label for="email">' in html and 'id="email" name="email"' in html
    assert '<label for="name">' in html
    assert html.count('type="checkbox" name="list"') == 2
    assert 'class="hp" aria-hidden="true"' in html and 'name="website"' in html

    single = client.get("/subscribe", params={"list": SINGLE})
    assert "<h1>Subscribe to Weekly Review</h1>" in single.text
    assert '<input type="hidden" name="list" value="weekly-review">' in single.text
    missing = client.get("/subscribe", params={"list": "nope"})
    assert missing.status_code == 404 and "There is no list called &#34;nope&#34;" in missing.text


def test_double_opt_in_confirm_page_then_welcome(
    client: TestClient, db: Database, settings: Settings
) -> None:
    response = subscribe(client, "ann@example.com", DOUBLE)
    assert response.status_code == 200 and "Check your inbox" in response.text
    (confirmation,) = mails(settings)
    assert confirmation["Subject"] == "Confirm your subscription to Morning Briefing"

    url = link(confirmation, "confirm")
    page = client.get(path(url))
    assert page.status_code == 200 and "Yes, subscribe me" in page.text
    assert page.headers["cache-control"] == "no-store" and "set-cookie" not in page.headers
    assert (
        status(db, "ann@example.com", DOUBLE) is SubscriptionStatus.PENDING
    )  # GET changes nothing

    confirmed = client.post(path(url))
    assert confirmed.status_code == 200 and "You are subscribed" in confirmed.text
    assert status(db, "ann@example.com", DOUBLE) is SubscriptionStatus.CONFIRMED
    assert [m["Subject"] for m in mails(settings)][1:] == ["Welcome to Morning Briefing"]

    again = client.post(path(url))
    assert again.status_code == 200 and "You already confirmed" in again.text
    assert len(mails(settings)) == 2


def test_list_without_double_opt_in_welcomes_at_once(
    client: TestClient, db: Database, settings: Settings
) -> None:
    subscribe(client, "bo@example.com", SINGLE)

    assert [m["Subject"] for m in mails(settings)] == ["Welcome to Weekly Review"]
    assert status(db, "bo@example.com", SINGLE) is SubscriptionStatus.CONFIRMED


def test_every_address_gets_the_same_answer(
    client: TestClient, db: Database, settings: Settings
) -> None:
    email = "same@example.com"
    bot = subscribe(client, email, DOUBLE, website="http://spam.example")
    with db.session() as session:
        assert session.scalar(select(Subscriber).where(Subscriber.email == email)) is None
    assert mails(settings) == []

    new = subscribe(client, email, DOUBLE)
    pending = subscribe(client, email, DOUBLE)
    client.post(path(link(mails(settings)[0], "confirm")))
    confirmed = subscribe(client, email, DOUBLE)
    with db.session() as session:
        suppress_address(session, email)
    suppressed = subscribe(client, email, DOUBLE)

    answers = {  # the same page but for its CSP nonce (fresh on every response)
        (r.status_code, re.sub(r'nonce="[^"]*"', "", r.text), "set-cookie" in r.headers)
        for r in (bot, new, pending, confirmed, suppressed)
    }
    assert len(answers) == 1 and next(iter(answers))[0] == 200
    assert [m["Subject"] for m in mails(settings)] == [
        "Confirm your subscription to Morning Briefing",
        "Welcome to Morning Briefing",
    ]


def test_bad_input_gets_the_form_back_with_400(client: TestClient, db: Database) -> None:
    cases = {
        ("not-an-address", DOUBLE): "This email address cannot be used: an email address must",
        ("", DOUBLE): "Please enter your email address",
        ("ok@example.com",): "Please choose at least one list",
        ("ok@example.com", "nope"): "does not exist any more",
    }
    for (email, *lists), message in cases.items():
        response = client.post(
            "/subscribe", data={"email": email, "name": "<b>Al</b>", "list": lists}
        )
        assert response.status_code == 400 and message in response.text
        assert 'value="&lt;b&gt;Al&lt;/b&gt;"' in response.text  # kept, and escaped
    long_name = client.post(
        "/subscribe", data={"email": "ok@example.com", "name": "x" * 201, "list": DOUBLE}
    )
    assert long_name.status_code == 400 and "shorten your name" in long_name.text
    with db.session() as session:
        assert session.scalar(select(Subscriber)) is None


def test_rate_limit_per_ip(settings: Settings, db: Database) -> None:
    limited = with_limits(settings, "3/minute", "100/minute")
    with TestClient(create_app(limited, db)) as client:
        answers = [subscribe(client, f"r{i}@example.com", DOUBLE) for i in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[3]
    assert 0 < int(refused.headers["retry-after"]) <= 60
    assert "Too many sign-ups from your network" in refused.text
    assert status(db, "r3@example.com", DOUBLE) is None


def test_rate_limit_per_address_whatever_its_capitals(settings: Settings, db: Database) -> None:
    limited = with_limits(settings, "100/minute", "2/hour")
    with TestClient(create_app(limited, db)) as client:
        codes = [
            subscribe(client, e, DOUBLE).status_code
            for e in ("zed@example.com", "Zed@example.com", "ZED@example.com")
        ]
        other = subscribe(client, "other@example.com", DOUBLE)

    assert codes == [200, 200, 429] and other.status_code == 200


def test_a_flood_for_one_victim_sends_one_confirmation_an_hour(
    client: TestClient, settings: Settings, clock: FakeClock
) -> None:
    for _ in range(30):
        assert subscribe(client, "victim@example.com", DOUBLE).status_code == 200
    assert len(mails(settings)) == 1

    clock.now += timedelta(minutes=61)
    subscribe(client, "victim@example.com", DOUBLE)
    subscribe(client, "victim@example.com", DOUBLE)
    assert len(mails(settings)) == 2


def test_one_click_unsubscribe_answers_200_without_redirect_or_cookie(
    client: TestClient, db: Database, settings: Settings
) -> None:
    subscribe(client, "cy@example.com", SINGLE)
    (welcome,) = mails(settings)
    assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = path(str(welcome["List-Unsubscribe"]).strip("<>"))

    page = client.get(url)
    assert page.status_code == 200 and main(page.text).count("<button") == 1
    assert status(db, "cy@example.com", SINGLE) is SubscriptionStatus.CONFIRMED

    one_click = client.post(
        url,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert one_click.status_code == 200 and "You are unsubscribed" in one_click.text
    assert "location" not in one_click.headers and "set-cookie" not in one_click.headers
    assert status(db, "cy@example.com", SINGLE) is SubscriptionStatus.UNSUBSCRIBED
    multipart = client.post(
        url, files={"List-Unsubscribe": (None, "One-Click")}, follow_redirects=False
    )
    assert multipart.status_code == 200  # idempotent, whatever the encoding


def test_forged_and_foreign_tokens_get_a_400_and_change_nothing(
    client: TestClient, db: Database, settings: Settings
) -> None:
    subscribe(client, "dee@example.com", DOUBLE)  # pending
    subscribe(client, "dee@example.com", SINGLE)  # confirmed
    person, key = person_key(db, "dee@example.com")
    tokens = Tokens(settings.secret_key)
    confirm, unsub = tokens.confirm(person, DOUBLE, key), tokens.unsubscribe(person, SINGLE, key)
    prefs = tokens.preferences(person, key)
    foreign_key = Tokens("another-secret")
    bad = [
        f"/confirm/{confirm[:-2]}xx",
        f"/confirm/{tokens.unsubscribe(person, DOUBLE, key)}",
        f"/confirm/{foreign_key.confirm(person, DOUBLE, key)}",
        f"/unsubscribe/{unsub[:-2]}xx",
        f"/unsubscribe/{tokens.confirm(person, SINGLE, key)}",
        f"/unsubscribe/{prefs}",
        f"/unsubscribe/{foreign_key.unsubscribe(person, SINGLE, key)}",
        f"/preferences/{prefs[:-2]}xx",
        f"/preferences/{unsub}",
        "/preferences/garbage",
    ]
    for url in bad:
        for response in (client.get(url), client.post(url, data={"action": "leave"})):
            assert response.status_code == 400, url
            assert (
                "This link is not valid" in response.text and "Nothing was changed" in response.text
            )

    assert status(db, "dee@example.com", DOUBLE) is SubscriptionStatus.PENDING
    assert status(db, "dee@example.com", SINGLE) is SubscriptionStatus.CONFIRMED


def test_an_expired_confirmation_link_gets_a_400(
    client: TestClient, db: Database, settings: Settings
) -> None:
    subscribe(client, "eve@example.com", DOUBLE)
    person, key = person_key(db, "eve@example.com")
    with time_machine.travel(utcnow() - timedelta(days=8)):
        old = Tokens(settings.secret_key).confirm(person, DOUBLE, key)

    for response in (client.get(f"/confirm/{old}"), client.post(f"/confirm/{old}")):
        assert response.status_code == 400 and "This link has expired" in response.text
    assert status(db, "eve@example.com", DOUBLE) is SubscriptionStatus.PENDING


def test_preferences_choose_lists_rename_and_leave(
    client: TestClient, db: Database, settings: Settings
) -> None:
    subscribe(client, "fay@example.com", DOUBLE)
    client.post(path(link(mails(settings)[0], "confirm")))
    url = path(link(mails(settings)[1], "preferences"))

    page = client.get(url)
    assert page.status_code == 200 and "fay@example.com" in page.text
    assert 'value="morning-briefing" checked' in page.text and 'value="weekly-review">' in page.text

    saved = client.post(url, data={"action": "save", "name": "Fay Wray", "list": [SINGLE]})
    assert saved.status_code == 200 and "Your choices are saved" in saved.text
    assert 'value="Fay Wray"' in saved.text
    assert status(db, "fay@example.com", DOUBLE) is SubscriptionStatus.UNSUBSCRIBED
    assert status(db, "fay@example.com", SINGLE) is SubscriptionStatus.CONFIRMED
    assert mails(settings)[-1]["Subject"] == "Welcome to Weekly Review"
    assert mails(settings)[-1]["To"] == "Fay Wray <fay@example.com>"

    left = client.post(url, data={"action": "leave"})
    assert left.status_code == 200 and "unsubscribed from everything" in left.text
    assert status(db, "fay@example.com", SINGLE) is SubscriptionStatus.UNSUBSCRIBED


def test_unsubscribing_mid_campaign_stops_the_running_send(
    client: TestClient, db: Database, settings: Settings
) -> None:
    people = add_subscribers(db, DOUBLE, 30)
    leaver = people[25]
    add_article(db, "big-story")
    clock = FakeClock()
    with db.session() as session:
        created = create_article(session, settings, "big-story", DOUBLE, clock(), Options())
        start_campaign(session, created.campaign, settings, clock())
        campaign_id = created.campaign.id
    leaver_id, key = person_key(db, leaver)
    unsubscribe_url = (
        f"/unsubscribe/{Tokens(settings.secret_key).unsubscribe(leaver_id, DOUBLE, key)}"
    )
    answers = []

    def unsubscribe(number: int) -> None:
        if number == 2:  # while the first of three batches of 10 goes out
            answers.append(client.post(unsubscribe_url, content=b"List-Unsubscribe=One-Click"))

    sender = MemorySender()
    sender.before_handover = unsubscribe
    done = run(engine_context(db, settings, clock, batch_size=10), sender, campaign_id)

    assert answers[0].status_code == 200
    assert set(sender.recipients()) == set(people) - {leaver}
    assert done.status == "sent" and done.skipped == 1
    with db.session() as session:
        row = session.scalar(
            select(Delivery).where(Delivery.campaign_id == campaign_id, Delivery.email == leaver)
        )
        assert row is not None and row.status is DeliveryStatus.SKIPPED
