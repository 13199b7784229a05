"""Real export files of other services (tests/data/imports), written from their documented
formats, imported as `dispatch subscribers import --from …` does."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from conftest import DATA
from dispatch.errors import CsvRowError
from dispatch.store.database import Database
from dispatch.store.models import (
    MailingList,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    Suppression,
)
from dispatch.subscribers import Reject, import_subscribers
from dispatch.subscribers.csv_format import sniff
from dispatch.subscribers.import_caps import ATTRIBUTES_MAX, COLUMNS_MAX
from dispatch.subscribers.tags import tags_of

LIST = "morning-briefing"
PENDING, CONFIRMED = SubscriptionStatus.PENDING, SubscriptionStatus.CONFIRMED


def copy(name: str, folder: Path) -> Path:
    return Path(shutil.copy(DATA / "imports" / name, folder / name))


def people(db: Database) -> dict[str, dict[str, Any]]:
    query = (
        select(Subscriber, Subscription)
        .join(Subscription)
        .join(MailingList)
        .where(MailingList.slug == LIST)
    )
    with db.session() as session:
        return {
            person.email: {
                "name": person.name,
                # the person's tags (subscriber_tags) shown with the attributes
                "attributes": person.attributes
                | ({"tags": tags} if (tags := tags_of(session, person.id)) else {}),
                "status": sub.status,
                "since": sub.created_at,
                "confirmed_at": sub.confirmed_at,
            }
            for person, sub in session.execute(query)
        }


def suppressions(db: Database) -> dict[str, str]:
    with db.session() as session:
        rows = session.execute(select(Suppression.email, Suppression.reason))
        return {email: reason for email, reason in rows}


def test_mailchimp_audience_files(db: Database, tmp_path: Path) -> None:
    seen: list[Reject] = []
    summary = import_subscribers(
        db, copy("mailchimp_subscribed.csv", tmp_path), LIST, on_reject=seen.append
    )
    assert summary.source == "mailchimp"
    assert (summary.rows, summary.subscribed, summary.rejected) == (4, 3, 1)
    assert seen[0].line == 5 and "not a usable email address" in seen[0].reason
    found = people(db)
    ines = found["ines@example.pt"]
    assert ines["name"] == "Inês Sá"
    assert ines["status"] is CONFIRMED  # subscribed at Mailchimp: they opted in there
    assert ines["since"] == datetime(2019, 3, 2, 9, 14, 51, tzinfo=UTC)
    assert ines["confirmed_at"] == datetime(2019, 3, 2, 9, 16, 2, tzinfo=UTC)
    assert ines["attributes"]["tags"] == ["lisbon", "readers 2019"]
    assert ines["attributes"]["Company"] == "Jornal do Porto"
    assert ines["attributes"]["MEMBER_RATING"] == "4"
    # internal ids and IP addresses are not kept
    assert not {"LEID", "EUID", "OPTIN_IP", "CONFIRM_IP"} & set(ines["attributes"])
    assert found["tom.baker@example.com"]["name"] == "Tom Baker"
    assert found["kai@example.de"]["since"] == datetime(2021, 6, 30, 22, 45, tzinfo=UTC)
    assert summary.unknown_columns == []

    left = import_subscribers(db, copy("mailchimp_unsubscribed.csv", tmp_path), LIST)
    cleaned = import_subscribers(db, copy("mailchimp_cleaned.csv", tmp_path), LIST)
    assert (left.kept_suppressed, cleaned.kept_suppressed) == (1, 1)
    assert suppressions(db) == {
        "left@example.org": "mailchimp unsubscribed",
        "bounced@example.net": "mailchimp cleaned",
    }
    assert "left@example.org" not in people(db)


def test_a_status_column_or_option_decides(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "audience.csv"
    path.write_text(
        "Email Address,First Name,MEMBER_RATING,Status\n"
        "a@example.com,A,1,subscribed\nb@example.com,B,1,pending\n"
        "c@example.com,C,1,cleaned\nd@example.com,D,1,transactional\ne@example.com,E,1,maybe\n"
    )
    seen: list[Reject] = []
    summary = import_subscribers(db, path, LIST, source="mailchimp", on_reject=seen.append)
    assert (summary.subscribed, summary.kept_suppressed, summary.skipped) == (2, 1, 1)
    assert [(r.line, r.reason.split(" (")[0]) for r in seen] == [(6, "unknown Status 'maybe'")]
    assert {e: p["status"] for e, p in people(db).items()} == {
        "a@example.com": CONFIRMED,
        "b@example.com": PENDING,
    }
    plain = tmp_path / "plain.csv"
    plain.write_text("Email Address,MEMBER_RATING\nx@example.com,1\n")
    import_subscribers(db, plain, LIST, status="unsubscribed")
    assert suppressions(db)["x@example.com"] == "mailchimp unsubscribed"


def test_substack(db: Database, tmp_path: Path) -> None:
    summary = import_subscribers(db, copy("substack_email_list.csv", tmp_path), LIST)
    assert summary.source == "substack"
    assert (summary.subscribed, summary.kept_suppressed, summary.skipped) == (3, 1, 1)
    found = people(db)
    assert set(found) == {"reader@example.com", "free.reader@example.com", "maïa@example.fr"}
    assert found["reader@example.com"]["attributes"] == {
        "active_subscription": "true",
        "expiry": "2025-07-06T16:20:44.000Z",
        "plan": "annual",
        "type": "paid",
    }
    assert found["reader@example.com"]["since"] == datetime(
        2018, 8, 27, 15, 6, 27, 713000, tzinfo=UTC
    )
    assert suppressions(db) == {"muted@example.com": "substack true"}


def test_ghost(db: Database, tmp_path: Path) -> None:
    summary = import_subscribers(db, copy("ghost_members.csv", tmp_path), LIST, source="ghost")
    assert (summary.subscribed, summary.kept_suppressed) == (2, 1)
    found = people(db)
    assert found["ana@example.pt"]["attributes"] == {
        "note": "Met at the Lisbon launch",
        "complimentary_plan": "false",
        "tiers": "Free",
        "tags": ["lisbon", "vip"],
    }
    assert found["paid@example.com"]["name"] == "Smith, Pat"
    assert "stripe_customer_id" not in found["paid@example.com"]["attributes"]
    assert suppressions(db) == {"quiet@example.com": "ghost false"}


def test_listmonk(db: Database, tmp_path: Path) -> None:
    summary = import_subscribers(db, copy("listmonk_subscribers.csv", tmp_path), LIST)
    assert summary.source == "listmonk"
    john = people(db)["john@example.com"]
    assert john["attributes"] == {
        "city": "Bengaluru",
        "projects": 3,
        "stack": '{"languages": ["go", "python"]}',
        "updated_at": "2021-05-04 10:11:12.123456+05:30",
    }
    assert john["since"] == datetime(2021, 5, 4, 4, 41, 12, 123456, tzinfo=UTC)
    assert suppressions(db) == {
        "off@example.com": "listmonk disabled",
        "spam@example.com": "listmonk blocklisted",
    }


def test_buttondown(db: Database, tmp_path: Path) -> None:
    summary = import_subscribers(db, copy("buttondown_subscribers.csv", tmp_path), LIST)
    assert summary.source == "buttondown"
    found = people(db)
    assert found["early@example.com"]["status"] is CONFIRMED
    assert found["early@example.com"]["attributes"] == {
        "plan": "yearly",
        "notes": "first paying reader",
        "referrer_url": "https://example.com/about",
        "utm_source": "twitter",
        "tags": ["founding", "lisbon"],
    }
    assert found["waiting@example.com"]["status"] is PENDING
    assert found["waiting@example.com"]["confirmed_at"] is None
    assert suppressions(db) == {
        "gone@example.com": "buttondown unsubscribed",
        "spammy@example.com": "buttondown spammy",
    }


def test_a_suppressed_person_already_on_the_list_is_never_mailed(
    db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "first.csv"
    path.write_text("email,name\nleft@example.org,Lena\n")
    import_subscribers(db, path, LIST, confirmed=True)
    again = import_subscribers(db, copy("mailchimp_unsubscribed.csv", tmp_path), LIST)
    assert again.kept_suppressed == 1
    assert "left@example.org" in suppressions(db)
    # a second run changes nothing and keeps the first reason
    rerun = import_subscribers(db, copy("mailchimp_unsubscribed.csv", tmp_path), LIST)
    assert (rerun.kept_suppressed, rerun.suppressed) == (0, 1)


def test_tags_add_up_across_files(db: Database, tmp_path: Path) -> None:
    first = tmp_path / "a.csv"
    first.write_text('Email Address,MEMBER_RATING,TAGS\nt@example.com,1,"""one"",""two"""\n')
    second = tmp_path / "b.csv"
    second.write_text('Email Address,MEMBER_RATING,TAGS\nt@example.com,1,"""two"",""three"""\n')
    import_subscribers(db, first, LIST)
    import_subscribers(db, second, LIST)
    assert people(db)["t@example.com"]["attributes"]["tags"] == ["one", "three", "two"]


def test_semicolons_and_windows_1252(db: Database, tmp_path: Path) -> None:
    path = copy("excel_semicolon_cp1252.csv", tmp_path)
    assert sniff(path).delimiter == ";"
    summary = import_subscribers(db, path, LIST)
    assert (summary.rows, summary.rejected) == (2, 0)
    assert people(db)["rene@example.fr"]["name"] == "René Dupré"
    assert people(db)["zoe@example.fr"]["attributes"] == {"city": "Besançon"}


def test_excel_unicode_text_utf16_tabs(db: Database, tmp_path: Path) -> None:
    path = copy("excel_unicode_tab.txt", tmp_path)
    form = sniff(path)
    assert (form.wide, form.delimiter) == (True, "\t")
    summary = import_subscribers(db, path, LIST)
    assert (summary.rows, summary.rejected) == (2, 0)
    assert people(db)["kenji@example.jp"]["name"] == "山田 健二"
    assert people(db)["kenji@example.jp"]["attributes"] == {"city": "東京"}


def test_unknown_columns_are_kept_and_listed(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "ghost.csv"
    path.write_text("email,subscribed_to_emails,favourite_colour\ng@example.com,true,teal\n")
    summary = import_subscribers(db, path, LIST)
    assert summary.unknown_columns == ["favourite_colour"]
    assert people(db)["g@example.com"]["attributes"] == {"favourite_colour": "teal"}


def test_bad_dates_json_and_tags_reject_their_row_only(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "listmonk.csv"
    path.write_text(
        "uuid,email,name,attributes,status,created_at,updated_at\n"
        "1,a@example.com,A,{},enabled,yesterday-ish,\n"
        "2,b@example.com,B,{not json,enabled,,\n"
        '3,c@example.com,C,"[1, 2]",enabled,,\n'
        "4,d@example.com,D,{},enabled,2021-01-01,\n"
    )
    seen: list[Reject] = []
    summary = import_subscribers(db, path, LIST, on_reject=seen.append)
    assert [(r.line, r.reason.split(":")[0]) for r in seen] == [
        (2, 'column "created_at"'),
        (3, 'column "attributes" is not JSON'),
        (4, 'column "attributes" is not a JSON object'),
    ]
    assert summary.subscribed == 1 and set(people(db)) == {"d@example.com"}


def test_caps_on_columns_attributes_and_values(db: Database, tmp_path: Path) -> None:
    wide = tmp_path / "wide.csv"
    columns = ["email", *(f"c{i}" for i in range(COLUMNS_MAX))]
    wide.write_text(",".join(columns) + "\n" + ",".join(["w@example.com"] + ["x"] * 200) + "\n")
    with pytest.raises(CsvRowError, match=r"wide.csv:1: header has 201 columns; at most 200"):
        import_subscribers(db, wide, LIST)

    many = tmp_path / "many.csv"
    names = ["email", *(f"a{i}" for i in range(ATTRIBUTES_MAX + 10))]
    big = "y" * 1001
    many.write_text(
        ",".join(names)
        + "\n"
        + ",".join(["m@example.com"] + ["v"] * 60)
        + "\n"
        + ",".join(["n@example.com", big] + ["v"] * 59)
        + "\n"
    )
    seen: list[Reject] = []
    summary = import_subscribers(db, many, LIST, on_reject=seen.append)
    assert summary.dropped_columns == [f"a{i}" for i in range(50, 60)]
    assert [(r.line, r.reason) for r in seen] == [
        (3, 'column "a0" holds 1,001 characters; at most 1,000')
    ]
    assert len(people(db)["m@example.com"]["attributes"]) == ATTRIBUTES_MAX


def test_a_header_without_the_services_email_column_is_refused(
    db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "x.csv"
    path.write_text("mail,name\na@example.com,A\n")
    with pytest.raises(CsvRowError, match=r'bad header for a ghost export: no "email" column'):
        import_subscribers(db, path, LIST, source="ghost")
    with pytest.raises(CsvRowError, match="--status applies to another service"):
        import_subscribers(db, path, LIST, source="dispatch", status="cleaned")
