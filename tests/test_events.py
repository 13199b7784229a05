"""dispatch.events: the type table, matching events to deliveries, effects, counts."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from dispatch.events import (
    EVENT_TYPES,
    Effect,
    EventType,
    event_counts,
    record_events,
    sendgrid_event,
    sendgrid_events,
    store_events,
)
from dispatch.lists import get_list
from dispatch.store.database import Database
from dispatch.store.models import (
    Campaign,
    CampaignKind,
    Delivery,
    DeliveryStatus,
    Event,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    Suppression,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def raw(kind: str, number: int, email: str = "dana@example.com", **extra: Any) -> dict[str, Any]:
    return {"event": kind, "sg_event_id": f"e{number}", "email": email, **extra}


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (raw("processed", 1), (EventType.QUEUED, Effect.RECORD)),
        (raw("delivered", 1), (EventType.DELIVERED, Effect.RECORD)),
        (raw("deferred", 1), (EventType.DEFERRED, Effect.RECORD)),
        (raw("open", 1), (EventType.OPENED, Effect.RECORD)),
        (raw("click", 1), (EventType.CLICKED, Effect.RECORD)),
        (raw("bounce", 1), (EventType.BOUNCED, Effect.BOUNCE)),
        (raw("bounce", 1, type="bounce"), (EventType.BOUNCED, Effect.BOUNCE)),
        (raw("bounce", 1, type="blocked"), (EventType.BLOCKED, Effect.RECORD)),
        (raw("dropped", 1), (EventType.REJECTED, Effect.SUPPRESS)),
        (raw("spamreport", 1), (EventType.COMPLAINED, Effect.COMPLAINT)),
        (raw("unsubscribe", 1), (EventType.UNSUBSCRIBED, Effect.UNSUBSCRIBE)),
        (raw("group_unsubscribe", 1), (EventType.UNSUBSCRIBED, Effect.UNSUBSCRIBE)),
        (raw("group_resubscribe", 1), (EventType.SUBSCRIBED, Effect.RECORD)),
        (raw("open", 1, type="blocked"), (EventType.OPENED, Effect.RECORD)),
        (raw("brand_new", 1), (EventType.UNKNOWN, Effect.RECORD)),
        (raw("", 1), (EventType.UNKNOWN, Effect.RECORD)),
    ],
)
def test_sendgrid_types_map_through_the_table(item: dict[str, Any], expected: tuple) -> None:
    event = sendgrid_event(item)
    assert event is not None and (event.type, event.effect) == expected


def test_every_table_entry_is_a_normalised_type() -> None:
    assert {kind for kind, _ in EVENT_TYPES.values()} <= set(EventType)


def test_sendgrid_fields_are_read_defensively() -> None:
    event = sendgrid_event(
        raw(
            "open",
            1,
            "  Dana@Example.com ",
            timestamp=1_772_441_940,
            campaign_id="7",
            delivery_id="42",
            sg_message_id="AbC123.filter0001p1las1-1234-5F1A-6.0",
        )
    )
    assert event is not None
    assert (event.email, event.campaign_id, event.delivery_id) == ("Dana@Example.com", 7, 42)
    assert event.message_id == "AbC123"
    assert event.occurred_at == datetime(2026, 3, 2, 8, 59, tzinfo=UTC)
    odd = sendgrid_event(raw("open", 2, campaign_id="٣", delivery_id=True, timestamp="today"))
    assert odd is not None and (odd.campaign_id, odd.delivery_id, odd.occurred_at) == (
        None,
        None,
        None,
    )


def test_entries_without_an_event_id_are_counted_not_kept() -> None:
    items = [
        raw("open", 1),
        {"event": "open"},
        {"sg_event_id": 5},
        raw("open", 2) | {"sg_event_id": "x" * 256},
        3,
    ]
    events, ignored = sendgrid_events(items)
    assert [e.event_id for e in events] == ["e1"] and ignored == 4


@pytest.fixture
def ledger(db: Database) -> dict[str, int]:
    """Dana on both lists, and two campaigns to morning-briefing, one delivery each."""
    with db.session() as s:
        morning, weekly = get_list(s, "morning-briefing"), get_list(s, "weekly-review")
        dana = Subscriber(email="dana@example.com")
        s.add(dana)
        s.flush()
        for item in (morning, weekly):
            s.add(Subscription(subscriber_id=dana.id, list_id=item.id, status="confirmed"))
        campaigns = [
            Campaign(list_id=morning.id, kind=CampaignKind.ONE_OFF, subject=n) for n in "AB"
        ]
        s.add_all(campaigns)
        s.flush()
        deliveries = [
            Delivery(campaign_id=c.id, subscriber_id=dana.id, email=dana.email, status="sent")
            for c in campaigns
        ]
        s.add_all(deliveries)
        s.flush()
        return {
            "a": campaigns[0].id,
            "b": campaigns[1].id,
            "da": deliveries[0].id,
            "db": deliveries[1].id,
            "dana": dana.id,
            "morning": morning.id,
            "weekly": weekly.id,
        }


def record(db: Database, *items: dict[str, Any]) -> dict[str, int]:
    events, ignored = sendgrid_events(items)
    tally = store_events(db, events, NOW)
    tally.ignored = ignored
    return tally.as_dict()


def test_counts_are_per_campaign_with_zeros(db: Database, ledger: dict[str, int]) -> None:
    a = {"campaign_id": str(ledger["a"]), "delivery_id": str(ledger["da"])}
    b = {"campaign_id": str(ledger["b"]), "delivery_id": str(ledger["db"])}
    record(db, raw("open", 1, **a), raw("open", 2, **a), raw("click", 3, **a), raw("open", 4, **b))
    with db.session() as s:
        counts_a, counts_b = event_counts(s, ledger["a"]), event_counts(s, ledger["b"])
        assert event_counts(s, 999_999) == dict.fromkeys(EventType, 0)
    assert set(counts_a) == {kind.value for kind in EventType}
    assert (counts_a["opened"], counts_a["clicked"], counts_a["bounced"]) == (2, 1, 0)
    assert (counts_b["opened"], counts_b["clicked"]) == (1, 0)


def test_custom_args_that_disagree_do_not_match(db: Database, ledger: dict[str, int]) -> None:
    wrong_pair = {"campaign_id": str(ledger["a"]), "delivery_id": str(ledger["db"])}
    gone = {"campaign_id": str(ledger["b"]), "delivery_id": "99999"}
    someone_else = {"campaign_id": str(ledger["a"]), "delivery_id": str(ledger["da"])}
    record(
        db,
        raw("bounce", 1, **wrong_pair),
        raw("open", 2, **gone),
        raw("bounce", 3, "eve@example.com", **someone_else),
    )
    with db.session() as s:
        rows = {e.provider_event_id: e for e in s.scalars(select(Event))}
        statuses = {d.id: d.status for d in s.scalars(select(Delivery))}
    assert (rows["e1"].campaign_id, rows["e1"].delivery_id) == (ledger["a"], None)
    assert (rows["e2"].campaign_id, rows["e2"].delivery_id) == (ledger["b"], None)
    assert rows["e3"].delivery_id is None
    assert set(statuses.values()) == {DeliveryStatus.SENT}


def test_unsubscribe_without_a_delivery_uses_the_address(
    db: Database, ledger: dict[str, int]
) -> None:
    record(db, raw("group_unsubscribe", 1, "Dana@EXAMPLE.com", campaign_id=str(ledger["b"])))
    with db.session() as s:
        morning = s.get(Subscription, (ledger["dana"], ledger["morning"]))
        weekly = s.get(Subscription, (ledger["dana"], ledger["weekly"]))
    assert morning is not None and morning.status is SubscriptionStatus.UNSUBSCRIBED
    assert weekly is not None and weekly.status is SubscriptionStatus.CONFIRMED


def test_unsubscribe_naming_no_campaign_is_recorded_only(
    db: Database, ledger: dict[str, int]
) -> None:
    assert record(db, raw("unsubscribe", 1))["stored"] == 1
    with db.session() as s:
        statuses = set(s.scalars(select(Subscription.status)))
    assert statuses == {SubscriptionStatus.CONFIRMED}


def test_suppression_keeps_the_first_reason_and_skips_bad_addresses(
    db: Database, ledger: dict[str, int]
) -> None:
    record(db, raw("spamreport", 1), raw("bounce", 2), raw("dropped", 3, "no address here"))
    record(db, raw("dropped", 4, "dana@example.com"))
    with db.session() as s:
        rows = {row.email: row.reason for row in s.scalars(select(Suppression))}
    assert rows == {"dana@example.com": "spamreport"}


def test_record_events_is_idempotent(db: Database, ledger: dict[str, int]) -> None:
    events, _ = sendgrid_events([raw("open", 1), raw("open", 2), raw("open", 1)])
    with db.session() as s:
        first = record_events(s, events, NOW)
    with db.session() as s:
        second = record_events(s, events, NOW)
    assert (first.stored, first.duplicates) == (2, 1)
    assert (second.stored, second.duplicates) == (0, 3)


def test_concurrent_deliveries_of_one_batch_store_each_event_once(
    db: Database, ledger: dict[str, int]
) -> None:
    events, _ = sendgrid_events([raw("dropped", n, f"p{n % 7}@example.com") for n in range(60)])
    start = threading.Barrier(6)
    tallies, errors = [], []

    def deliver() -> None:
        start.wait()
        try:
            tallies.append(store_events(db, events, NOW))
        except Exception as exc:  # reported below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(t.stored for t in tallies) == 60
    assert all(t.stored + t.duplicates == 60 for t in tallies)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 60
        assert s.scalar(select(func.count()).select_from(Suppression)) == 7


def test_an_address_reported_in_wire_form_finds_the_stored_one(db: Database) -> None:
    """Providers report what went on the wire (A-labels) in any case; the store holds
    the normal form (`x@bücher.example`): both match it by equality."""
    with db.session() as s:
        morning = get_list(s, "morning-briefing")
        jo = Subscriber(email="jürgen@bücher.example")
        s.add(jo)
        s.flush()
        s.add(Subscription(subscriber_id=jo.id, list_id=morning.id, status="confirmed"))
        campaign = Campaign(list_id=morning.id, kind=CampaignKind.ONE_OFF, subject="A")
        s.add(campaign)
        s.flush()
        delivery = Delivery(
            campaign_id=campaign.id,
            subscriber_id=jo.id,
            email=jo.email,
            status="sent",
            provider_message_id="MsgIdn",
        )
        s.add(delivery)
        s.flush()
        ids = (jo.id, morning.id, campaign.id, delivery.id)
    wire = "JÜRGEN@XN--BCHER-KVA.example"
    record(
        db,
        raw("bounce", 1, wire, sg_message_id="MsgIdn.filter0001-1"),
        raw("group_unsubscribe", 2, "Jürgen@xn--bcher-kva.EXAMPLE", campaign_id=str(ids[2])),
        raw("open", 3, wire, campaign_id=str(ids[2]), delivery_id=str(ids[3])),
    )
    with db.session() as s:
        bounced = s.get(Delivery, ids[3])
        subscription = s.get(Subscription, (ids[0], ids[1]))
        suppressed = set(s.scalars(select(Suppression.email)))
        matched = {e.provider_event_id: e.delivery_id for e in s.scalars(select(Event))}
    assert bounced is not None and bounced.status is DeliveryStatus.BOUNCED
    assert suppressed == {"jürgen@bücher.example"}
    assert subscription is not None and subscription.status is SubscriptionStatus.UNSUBSCRIBED
    assert matched == {"e1": ids[3], "e2": None, "e3": ids[3]}
