"""WebSub publish pings against a real HTTP hub on loopback: success, refusal,
unreachable and slow hubs (failures are reported and logged, never raised); and the
bookkeeping of failed pings kept for a retry (attempts, age, the JSON they are kept in)."""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime, timedelta

import httpx

from dispatch.websub import (
    MAX_AGE,
    MAX_ATTEMPTS,
    PendingPing,
    PingResult,
    pending_from_json,
    pending_to_json,
    ping_hubs,
    still_failing,
    still_wanted,
)
from support.feeds import hub_server

FEED = "https://news.example/feeds/rss.xml"
NOW = datetime(2026, 3, 2, 7, tzinfo=UTC)


def _dead_url() -> str:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hub"


def test_ping_posts_the_publish_form_to_every_hub_for_every_url():
    with hub_server() as first, hub_server() as second:
        results = ping_hubs([first.url, second.url], [FEED, FEED.replace("rss.xml", "feed.json")])
    assert [r.ok for r in results] == [True] * 4
    assert {r.status for r in results} == {204}
    expected = [
        {"hub.mode": ["publish"], "hub.url": [FEED]},
        {"hub.mode": ["publish"], "hub.url": [FEED.replace("rss.xml", "feed.json")]},
    ]
    assert first.pings == expected and second.pings == expected
    assert first.content_types[0] == "application/x-www-form-urlencoded"


def test_refusing_hub_is_reported_and_logged_not_raised(caplog):
    with hub_server() as hub:
        hub.status = 400
        with caplog.at_level(logging.WARNING, logger="dispatch.websub"):
            [result] = ping_hubs([hub.url], [FEED])
    assert not result.ok and result.status == 400 and "HTTP 400" in (result.error or "")
    assert f"WebSub hub {hub.url} refused the ping for {FEED}" in caplog.text


def test_unreachable_hub_does_not_stop_the_others(caplog):
    dead = _dead_url()
    with hub_server() as hub, caplog.at_level(logging.WARNING, logger="dispatch.websub"):
        results = ping_hubs([dead, hub.url], [FEED])
    assert [r.ok for r in results] == [False, True]
    assert results[0].status is None and "ConnectError" in (results[0].error or "")
    assert len(hub.pings) == 1
    assert dead in caplog.text


def test_slow_hub_times_out():
    with hub_server() as hub, httpx.Client(timeout=0.2) as client:
        hub.delay = 1.0
        [result] = ping_hubs([hub.url], [FEED], client=client)
    assert not result.ok and "Timeout" in (result.error or "")


def test_unreachable_hub_is_tried_once_per_call_and_the_rest_fail_fast():
    urls = [FEED, FEED.replace("rss", "atom"), FEED.replace("rss.xml", "feed.json")]
    with hub_server() as slow, hub_server() as fine, httpx.Client(timeout=0.2) as client:
        slow.delay = 1.0
        results = ping_hubs([slow.url, fine.url], urls, client=client)
    assert len(slow.pings) == 1 and len(fine.pings) == 3
    assert [r.ok for r in results] == [False] * 3 + [True] * 3
    assert "Timeout" in (results[0].error or "")
    assert all(r.error == f"not tried: {results[0].error}" for r in results[1:3])


def test_nothing_to_ping_sends_nothing():
    with hub_server() as hub:
        assert ping_hubs([hub.url], []) == []
        assert ping_hubs([], [FEED]) == []
    assert hub.pings == []


def _failed(hub: str = "http://hub.example/", url: str = FEED) -> PingResult:
    return PingResult(hub, url, status=503, error="HTTP 503 Service Unavailable")


def test_failures_are_counted_from_their_first_failure():
    [first] = still_failing([], [_failed()], NOW)
    assert (first.attempts, first.first_failed, first.last_error) == (
        1,
        NOW,
        "HTTP 503 Service Unavailable",
    )
    [second] = still_failing([first], [_failed()], NOW + timedelta(hours=1))
    assert (second.attempts, second.first_failed) == (2, NOW)
    assert still_failing([second], [PingResult(first.hub, FEED, status=202)], NOW) == []


def test_pings_are_given_up_after_max_attempts_or_max_age(caplog):
    tired = PendingPing("http://hub.example/", FEED, MAX_ATTEMPTS - 1, NOW, "x")
    with caplog.at_level(logging.ERROR, logger="dispatch.websub"):
        assert still_failing([tired], [_failed()], NOW + timedelta(minutes=1)) == []
    assert f"after {MAX_ATTEMPTS} attempts" in caplog.text
    old = PendingPing("http://hub.example/", FEED, 1, NOW, "x")
    assert still_failing([old], [_failed()], NOW + MAX_AGE - timedelta(seconds=1))
    assert still_failing([old], [_failed()], NOW + MAX_AGE) == []


def test_pending_pings_round_trip_through_json_and_survive_garbage(caplog):
    pending = still_failing([], [_failed("http://b/"), _failed("http://a/", "http://f/é")], NOW)
    assert [p.hub for p in pending] == ["http://a/", "http://b/"]  # stable order
    content = pending_to_json(pending)
    assert pending_from_json(content, "x") == pending
    assert content == pending_to_json(pending_from_json(content, "x"))
    naive = content.replace(b"+00:00", b"")
    with caplog.at_level(logging.WARNING, logger="dispatch.websub"):
        for garbage in (b"", b"[]", b'{"pending": [{"hub": "h"}]}', naive):
            assert pending_from_json(garbage, "pending.json") == []
    assert caplog.text.count("pending.json is unreadable") == 4


def test_pending_pings_for_removed_hubs_or_feeds_are_dropped(caplog):
    keep = PendingPing("http://a/", FEED, 1, NOW, "x")
    gone_hub = PendingPing("http://old/", FEED, 1, NOW, "x")
    gone_feed = PendingPing(
        "http://a/", "https://news.example/feeds/sections/x/rss.xml", 1, NOW, "x"
    )
    with caplog.at_level(logging.WARNING, logger="dispatch.websub"):
        assert still_wanted([keep, gone_hub, gone_feed], ["http://a/"], [FEED]) == [keep]
    assert "hub no longer configured" in caplog.text and "feed no longer exists" in caplog.text
