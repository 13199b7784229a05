"""WebSub publish pings against a real HTTP hub on loopback: success, refusal,
unreachable and slow hubs (failures are reported and logged, never raised)."""

from __future__ import annotations

import logging
import socket

import httpx

from dispatch.websub import ping_hubs
from support.feeds import hub_server

FEED = "https://news.example/feeds/rss.xml"


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


def test_nothing_to_ping_sends_nothing():
    with hub_server() as hub:
        assert ping_hubs([hub.url], []) == []
        assert ping_hubs([], [FEED]) == []
    assert hub.pings == []
