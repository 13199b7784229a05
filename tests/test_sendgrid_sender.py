from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dispatch.delivery.base import Outcome, Sender
from dispatch.delivery.sendgrid import SendgridSender
from support.outgoing import campaign_message, envelopes
from support.sendgrid_server import Reply, SendgridServer

NOW = 1_800_000_000.0


@pytest.fixture
def server() -> Iterator[SendgridServer]:
    with SendgridServer() as running:
        yield running


@pytest.fixture
def sleeps() -> list[float]:
    return []


def sender_for(server: SendgridServer, sleeps: list[float], **options: Any) -> SendgridSender:
    settings: dict[str, Any] = {"timeout": 5.0, "clock": lambda: NOW, "sleep": sleeps.append}
    return SendgridSender("SG.test-key", host=server.url, **(settings | options))


def personalizations(server: SendgridServer) -> list[list[dict[str, Any]]]:
    return [request.json()["personalizations"] for request in server.requests]


def test_a_large_batch_goes_in_requests_of_at_most_1000(
    server: SendgridServer, sleeps: list[float]
) -> None:
    batch = envelopes(2500)
    sender = sender_for(server, sleeps)
    results = list(sender.send(campaign_message(), batch))
    assert isinstance(sender, Sender)
    assert [len(p) for p in personalizations(server)] == [1000, 1000, 500]
    for people in personalizations(server):
        addresses = [p["to"][0]["email"] for p in people]
        assert len(addresses) == len(set(addresses))
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert sorted(r.delivery_id for r in results) == list(range(1, 2501))
    by_request = [results[:1000], results[1000:2000], results[2000:]]
    for chunk, message_id in zip(by_request, server.message_ids, strict=True):
        assert {r.provider_message_id for r in chunk} == {message_id}
    request = server.requests[0]
    assert request.path == "/v3/mail/send"
    assert request.headers["Authorization"] == "Bearer SG.test-key"
    assert sleeps == []


def test_request_content_substitutions_headers_and_ids(
    server: SendgridServer, sleeps: list[float]
) -> None:
    message = campaign_message()
    list(sender_for(server, sleeps).send(message, envelopes(2, campaign_id=31, start=5)))
    body = server.requests[0].json()
    assert body["from"] == {"email": "briefing@news.example", "name": "The Dispatch"}
    assert body["subject"] == "Morning Briefing: tides"
    assert [part["type"] for part in body["content"]] == ["text/plain", "text/html"]
    assert body["content"][0]["value"] == "Hello -t0- in -t1-\n\nUnsubscribe: -t2-\n"
    assert "-h0-" in body["content"][1]["value"]
    assert "dynamic_template_data" not in str(body) and "template_id" not in body
    first = body["personalizations"][0]
    assert first["to"] == [{"email": "reader5@example.com", "name": "Reader <5> & Co"}]
    assert first["substitutions"]["-h0-"] == "Reader &lt;5&gt; &amp; Co"  # escaped for HTML
    assert first["substitutions"]["-t0-"] == "Reader <5> & Co"  # raw for text
    assert first["substitutions"]["-t2-"] == "https://news.example/unsubscribe/token5"
    assert first["custom_args"] == {"campaign_id": "31", "delivery_id": "5"}
    headers = first["headers"]
    assert headers["List-Unsubscribe"].startswith("<https://news.example/unsubscribe/token5>")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert body["personalizations"][1]["custom_args"]["delivery_id"] == "6"


def test_an_address_twice_in_a_batch_is_split_across_requests(
    server: SendgridServer, sleeps: list[float]
) -> None:
    batch = envelopes(4, emails=["same@example.com", "other@example.com", "SAME@example.com"])
    results = list(sender_for(server, sleeps).send(campaign_message(), batch))
    sent = [[p["to"][0]["email"] for p in people] for people in personalizations(server)]
    assert sent == [
        ["same@example.com", "other@example.com", "reader4@example.com"],
        ["SAME@example.com"],
    ]
    assert [r.delivery_id for r in results] == [1, 2, 4, 3]


def test_rate_limited_waits_until_the_reset_time_then_retries(
    server: SendgridServer, sleeps: list[float]
) -> None:
    server.script(Reply(429, b'{"errors":[]}', headers={"X-RateLimit-Reset": str(int(NOW) + 12)}))
    results = list(sender_for(server, sleeps).send(campaign_message(), envelopes(3)))
    assert sleeps == [12.0]
    assert len(server.requests) == 2
    assert server.requests[0].body == server.requests[1].body
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert {r.provider_message_id for r in results} == {server.message_ids[0]}


def test_rate_limit_wait_is_bounded(server: SendgridServer, sleeps: list[float]) -> None:
    server.script(Reply(429, headers={"X-RateLimit-Reset": str(int(NOW) + 3600)}))
    list(sender_for(server, sleeps, max_wait=60).send(campaign_message(), envelopes(1)))
    assert sleeps == [60.0]


def test_server_error_is_retried_with_backoff(server: SendgridServer, sleeps: list[float]) -> None:
    server.script(Reply(500, b"oops"), Reply(503))
    results = list(sender_for(server, sleeps, backoff=2).send(campaign_message(), envelopes(2)))
    assert sleeps == [2, 4]
    assert len(server.requests) == 3
    assert {r.outcome for r in results} == {Outcome.SENT}


def test_persistent_server_errors_end_temporary(
    server: SendgridServer, sleeps: list[float]
) -> None:
    server.script(*[Reply(502, b"bad gateway")] * 4)
    sender = sender_for(server, sleeps, backoff=1, max_attempts=4)
    results = list(sender.send(campaign_message(), envelopes(2)))
    assert sleeps == [1, 2, 4]
    assert len(server.requests) == 4
    assert [r.outcome for r in results] == [Outcome.TEMPORARY] * 2
    assert results[0].error == "SendGrid replied 502: bad gateway"


def test_a_slow_reply_beyond_the_timeout_is_retried(
    server: SendgridServer, sleeps: list[float]
) -> None:
    server.script(Reply(202, headers={"X-Message-Id": "too-late"}, delay=2))
    results = list(sender_for(server, sleeps, timeout=0.5).send(campaign_message(), envelopes(2)))
    assert len(server.requests) == 2
    assert len(sleeps) == 1
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert {r.provider_message_id for r in results} == {server.message_ids[0]}


def test_bad_request_is_permanent_and_not_retried(
    server: SendgridServer, sleeps: list[float]
) -> None:
    error = b'{"errors":[{"message":"The from email does not contain a valid address."}]}'
    server.script(Reply(400, error))
    results = list(sender_for(server, sleeps).send(campaign_message(), envelopes(3)))
    assert len(server.requests) == 1 and sleeps == []
    assert [r.outcome for r in results] == [Outcome.PERMANENT] * 3
    assert "400" in (results[0].error or "")
    assert "does not contain a valid address" in (results[0].error or "")
    assert not any(r.suppress for r in results)


def test_a_refused_api_key_is_temporary_so_the_campaign_pauses(
    server: SendgridServer, sleeps: list[float]
) -> None:
    server.script(Reply(401, b'{"errors":[{"message":"authorization required"}]}'))
    results = list(sender_for(server, sleeps).send(campaign_message(), envelopes(2)))
    assert len(server.requests) == 1
    assert [r.outcome for r in results] == [Outcome.TEMPORARY] * 2


def test_unreachable_host_ends_temporary(sleeps: list[float]) -> None:
    with SendgridServer() as gone:
        url = gone.url
    sender = SendgridSender("SG.k", host=url, timeout=2, sleep=sleeps.append, max_attempts=2)
    [result] = sender.send(campaign_message(), envelopes(1))
    assert result.outcome is Outcome.TEMPORARY
    assert f"SendGrid at {url}: no response" in (result.error or "")
    assert len(sleeps) == 1


def test_results_are_yielded_request_by_request(
    server: SendgridServer, sleeps: list[float]
) -> None:
    results = sender_for(server, sleeps).send(campaign_message(), envelopes(1001))
    next(results)
    assert len(server.requests) == 1
