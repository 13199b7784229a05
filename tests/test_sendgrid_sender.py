"""`SendgridSender` against a loopback stand-in for SendGrid's v3 API: every answer in
`dispatch.delivery.sendgrid`'s docstring, and what each means for the unit's envelopes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from dispatch.delivery.base import (
    Envelope,
    Halt,
    Outcome,
    ProviderUnavailable,
    Sender,
    SendResult,
    admit_all,
)
from dispatch.delivery.sendgrid import SendgridSender
from support.outgoing import campaign_message, envelopes
from support.sendgrid_server import Reply, SendgridServer

NOW = 1_800_000_000.0
IDENTITY = (
    "The from address does not match a verified Sender Identity. Mail cannot be sent until "
    "this error is resolved."
)


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


class Admissions:
    """An `admit` that records each call's ids, or raises `Halt` on the call numbered `halt_at`."""

    def __init__(self, halt_at: int | None = None) -> None:
        self.calls: list[list[int]] = []
        self.halt_at = halt_at

    def __call__(self, batch: Sequence[Envelope]) -> None:
        if self.halt_at is not None and len(self.calls) + 1 == self.halt_at:
            raise Halt("cancelled by an editor")
        self.calls.append([e.delivery_id for e in batch])


def personalizations(server: SendgridServer) -> list[list[dict[str, Any]]]:
    return [request.json()["personalizations"] for request in server.requests]


def addresses(server: SendgridServer) -> list[list[str]]:
    return [[p["to"][0]["email"] for p in people] for people in personalizations(server)]


def errors(*items: dict[str, str | None]) -> bytes:
    return json.dumps({"errors": list(items)}).encode()


def by_id(results: list[SendResult]) -> dict[int, SendResult]:
    out = {r.delivery_id: r for r in results}
    assert len(out) == len(results), "two results for one envelope"
    return out


# --- accepted -----------------------------------------------------------------------------


def test_a_unit_of_1000_goes_in_one_request(server: SendgridServer, sleeps: list[float]) -> None:
    sender = sender_for(server, sleeps)
    admit = Admissions()
    results = sender.deliver(campaign_message(), envelopes(1000), admit)
    assert isinstance(sender, Sender)
    assert (sender.name, sender.unit) == ("sendgrid", 1000)
    assert [len(p) for p in personalizations(server)] == [1000]
    assert admit.calls == [list(range(1, 1001))]
    assert [r.delivery_id for r in results] == list(range(1, 1001))
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert {r.provider_message_id for r in results} == set(server.message_ids)
    request = server.requests[0]
    assert request.path == "/v3/mail/send"
    assert request.headers["Authorization"] == "Bearer SG.test-key"
    assert sleeps == []


def test_2500_people_take_three_requests_not_25(
    server: SendgridServer, sleeps: list[float]
) -> None:
    batch = envelopes(2500)
    sender = sender_for(server, sleeps)
    results: list[SendResult] = []
    for start in range(0, len(batch), sender.unit):  # as the engine hands units over
        results += sender.deliver(campaign_message(), batch[start : start + sender.unit], admit_all)
    assert [len(p) for p in personalizations(server)] == [1000, 1000, 500]
    for people in addresses(server):
        assert len(people) == len(set(people))
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert sorted(r.delivery_id for r in results) == list(range(1, 2501))
    by_request = [results[:1000], results[1000:2000], results[2000:]]
    for chunk, message_id in zip(by_request, server.message_ids, strict=True):
        assert {r.provider_message_id for r in chunk} == {message_id}


def test_more_than_a_unit_in_one_call_is_still_split_at_1000(
    server: SendgridServer, sleeps: list[float]
) -> None:
    results = sender_for(server, sleeps).deliver(campaign_message(), envelopes(1001), admit_all)
    assert [len(p) for p in personalizations(server)] == [1000, 1]
    assert len(results) == 1001 and {r.outcome for r in results} == {Outcome.SENT}


def test_request_content_substitutions_headers_and_ids(
    server: SendgridServer, sleeps: list[float]
) -> None:
    message = campaign_message()
    sender_for(server, sleeps).deliver(message, envelopes(2, campaign_id=31, start=5), admit_all)
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


def test_an_address_twice_in_a_unit_is_split_across_requests(
    server: SendgridServer, sleeps: list[float]
) -> None:
    batch = envelopes(4, emails=["same@example.com", "other@example.com", "SAME@example.com"])
    admit = Admissions()
    results = sender_for(server, sleeps).deliver(campaign_message(), batch, admit)
    assert addresses(server) == [
        ["same@example.com", "other@example.com", "reader4@example.com"],
        ["same@example.com"],  # one address (case folds, as subscribers do), sent as stored
    ]
    assert [r.delivery_id for r in results] == [1, 2, 4, 3]
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert admit.calls == [[1, 2, 4, 3]]  # one hand-over, admitted once


def test_halt_stops_the_unit_before_any_request(
    server: SendgridServer, sleeps: list[float]
) -> None:
    batch = envelopes(4, emails=["same@example.com", "other@example.com", "same@example.com"])
    with pytest.raises(Halt, match="cancelled by an editor"):
        sender_for(server, sleeps).deliver(campaign_message(), batch, Admissions(halt_at=1))
    assert server.requests == []


def test_several_threads_post_at_once(server: SendgridServer, sleeps: list[float]) -> None:
    sender = sender_for(server, sleeps, concurrency=4)
    units = [envelopes(50, start=1 + 50 * i) for i in range(8)]
    message = campaign_message()
    with ThreadPoolExecutor(max_workers=4) as threads:
        answers = list(threads.map(lambda u: sender.deliver(message, u, admit_all), units))
    assert len(server.requests) == 8
    for unit, results in zip(units, answers, strict=True):
        assert [r.delivery_id for r in results] == [e.delivery_id for e in unit]
        assert len({r.provider_message_id for r in results}) == 1
    sent = sorted(a for people in addresses(server) for a in people)
    assert sent == sorted(e.recipient.email for unit in units for e in unit)


# --- refused per recipient -------------------------------------------------------------------


def test_a_400_naming_one_recipient_fails_them_and_resends_the_rest(
    server: SendgridServer, sleeps: list[float]
) -> None:
    message = "Does not contain a valid address."
    server.script(
        Reply(400, errors({"field": "personalizations.1.to.0.email", "message": message}))
    )
    admit = Admissions()
    results = by_id(sender_for(server, sleeps).deliver(campaign_message(), envelopes(3), admit))
    assert results[2] == SendResult(
        2, Outcome.PERMANENT, error=f"SendGrid refused this recipient (400): {message}"
    )
    assert not results[2].suppress
    assert results[1].outcome is results[3].outcome is Outcome.SENT
    assert results[1].provider_message_id == server.message_ids[0]
    assert addresses(server) == [
        ["reader1@example.com", "reader2@example.com", "reader3@example.com"],
        ["reader1@example.com", "reader3@example.com"],
    ]
    assert admit.calls == [[1, 2, 3]]  # the second request is the same hand-over
    assert sleeps == []


def test_a_400_naming_several_recipients_joins_their_messages(
    server: SendgridServer, sleeps: list[float]
) -> None:
    server.script(
        Reply(
            400,
            errors(
                {"field": "personalizations.0.to.0.email", "message": "Invalid address."},
                {"field": "personalizations.0.headers", "message": "Header too long."},
                {"field": "personalizations.2.to.0.email", "message": "Invalid address."},
            ),
        )
    )
    results = by_id(sender_for(server, sleeps).deliver(campaign_message(), envelopes(3), admit_all))
    assert results[1].outcome is Outcome.PERMANENT
    assert (
        results[1].error
        == "SendGrid refused this recipient (400): Invalid address.; Header too long."
    )
    assert results[3].outcome is Outcome.PERMANENT
    assert results[2].outcome is Outcome.SENT
    assert addresses(server)[1] == ["reader2@example.com"]


def test_a_non_ascii_local_part_fails_alone(server: SendgridServer, sleeps: list[float]) -> None:
    batch = envelopes(3, emails=["reader1@example.com", "jörg@example.com"])
    admit = Admissions()
    results = by_id(sender_for(server, sleeps).deliver(campaign_message(), batch, admit))
    assert results[2].outcome is Outcome.PERMANENT
    assert "'jörg@example.com' cannot be built" in (results[2].error or "")
    assert "non-ASCII local part" in (results[2].error or "")
    assert results[1].outcome is results[3].outcome is Outcome.SENT
    assert addresses(server) == [["reader1@example.com", "reader3@example.com"]]
    assert admit.calls == [[1, 3]]


def test_idn_domains_go_as_a_labels(server: SendgridServer, sleeps: list[float]) -> None:
    batch = envelopes(2, emails=["idn@exämple.com", "x@bücher.example"])
    results = sender_for(server, sleeps).deliver(campaign_message(), batch, admit_all)
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert addresses(server) == [["idn@xn--exmple-cua.com", "x@xn--bcher-kva.example"]]


def test_nobody_buildable_sends_no_request_and_admits_nobody(
    server: SendgridServer, sleeps: list[float]
) -> None:
    batch = envelopes(1, emails=["jörg@example.com"])
    admit = Admissions()
    [result] = sender_for(server, sleeps).deliver(campaign_message(), batch, admit)
    assert result.outcome is Outcome.PERMANENT
    assert server.requests == [] and admit.calls == []


# --- the request as a whole: ProviderUnavailable ---------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (400, errors({"field": "from", "message": IDENTITY}), "verified Sender Identity"),
        (401, errors({"message": "The provided authorization grant is invalid"}), "grant"),
        (403, errors({"message": "access forbidden"}), "access forbidden"),
        (400, errors({"field": None, "message": "Bad content."}), "Bad content."),
        (413, b"", "(empty body)"),
    ],
)
def test_a_refusal_of_the_request_needs_the_settings_fixed(
    server: SendgridServer, sleeps: list[float], status: int, body: bytes, words: str
) -> None:
    server.script(Reply(status, body))
    with pytest.raises(ProviderUnavailable) as caught:
        sender_for(server, sleeps).deliver(campaign_message(), envelopes(100), admit_all)
    assert caught.value.temporary is False
    assert caught.value.reason.startswith(f"SendGrid replied {status}: ")
    assert words in caught.value.reason
    assert caught.value.results == []  # nobody failed: all go back to pending
    assert len(server.requests) == 1 and sleeps == []


def test_a_400_mixing_a_recipient_and_the_sender_fails_nobody(
    server: SendgridServer, sleeps: list[float]
) -> None:
    server.script(
        Reply(
            400,
            errors(
                {"field": "personalizations.0.to.0.email", "message": "Invalid address."},
                {"field": "from", "message": IDENTITY},
            ),
        )
    )
    with pytest.raises(ProviderUnavailable) as caught:
        sender_for(server, sleeps).deliver(campaign_message(), envelopes(3), admit_all)
    assert caught.value.temporary is False and caught.value.results == []
    assert len(server.requests) == 1


def test_a_400_naming_someone_not_in_the_request_fails_nobody(
    server: SendgridServer, sleeps: list[float]
) -> None:
    server.script(Reply(400, errors({"field": "personalizations.2.to.0.email", "message": "?"})))
    with pytest.raises(ProviderUnavailable) as caught:
        sender_for(server, sleeps).deliver(campaign_message(), envelopes(2), admit_all)
    assert caught.value.temporary is False and caught.value.results == []
    assert "personalizations.2.to.0.email" in caught.value.reason


def test_results_already_known_travel_with_the_refusal(
    server: SendgridServer, sleeps: list[float]
) -> None:
    server.script(
        Reply(400, errors({"field": "personalizations.0.to.0.email", "message": "Invalid."})),
        Reply(401, errors({"message": "authorization required"})),
    )
    batch = envelopes(3, emails=["reader1@example.com", "jörg@example.com"])
    with pytest.raises(ProviderUnavailable) as caught:
        sender_for(server, sleeps).deliver(campaign_message(), batch, admit_all)
    assert caught.value.temporary is False
    assert "authorization required" in caught.value.reason
    known = by_id(caught.value.results)
    assert sorted(known) == [1, 2]  # refused in the first request; could not be built
    assert known[1].error == "SendGrid refused this recipient (400): Invalid."
    assert "non-ASCII local part" in (known[2].error or "")
    assert {r.outcome for r in known.values()} == {Outcome.PERMANENT}
    assert len(server.requests) == 2  # reader3 was in both, accepted by neither


def test_the_second_request_of_a_unit_refused_carries_the_first_ones_answers(
    server: SendgridServer, sleeps: list[float]
) -> None:
    server.script(Reply(202, headers={"X-Message-Id": "first"}), Reply(403, b"forbidden"))
    batch = envelopes(3, emails=["same@example.com", "other@example.com", "same@example.com"])
    with pytest.raises(ProviderUnavailable) as caught:
        sender_for(server, sleeps).deliver(campaign_message(), batch, admit_all)
    assert [(r.delivery_id, r.outcome, r.provider_message_id) for r in caught.value.results] == [
        (1, Outcome.SENT, "first"),
        (2, Outcome.SENT, "first"),
    ]


# --- retried inside the sender ---------------------------------------------------------------


def test_rate_limited_waits_until_the_reset_time_then_retries(
    server: SendgridServer, sleeps: list[float]
) -> None:
    server.script(Reply(429, b'{"errors":[]}', headers={"X-RateLimit-Reset": str(int(NOW) + 12)}))
    results = sender_for(server, sleeps).deliver(campaign_message(), envelopes(3), admit_all)
    assert sleeps == [12.0]
    assert len(server.requests) == 2
    assert server.requests[0].body == server.requests[1].body
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert {r.provider_message_id for r in results} == {server.message_ids[0]}


def test_rate_limit_wait_is_bounded(server: SendgridServer, sleeps: list[float]) -> None:
    server.script(Reply(429, headers={"X-RateLimit-Reset": str(int(NOW) + 3600)}))
    sender_for(server, sleeps, max_wait=60).deliver(campaign_message(), envelopes(1), admit_all)
    assert sleeps == [60.0]


def test_rate_limited_without_a_reset_time_backs_off(
    server: SendgridServer, sleeps: list[float]
) -> None:
    server.script(Reply(429), Reply(429, headers={"X-RateLimit-Reset": "soon"}))
    sender_for(server, sleeps, backoff=2).deliver(campaign_message(), envelopes(1), admit_all)
    assert sleeps == [2, 4]
    assert len(server.requests) == 3


def test_rate_limited_to_the_end_is_temporary_with_the_wait(
    server: SendgridServer, sleeps: list[float]
) -> None:
    reset = {"X-RateLimit-Reset": str(int(NOW) + 30)}
    server.script(*[Reply(429, b"too many", headers=reset)] * 2)
    sender = sender_for(server, sleeps, max_attempts=2)
    with pytest.raises(ProviderUnavailable) as caught:
        sender.deliver(campaign_message(), envelopes(2), admit_all)
    assert (caught.value.temporary, caught.value.retry_after) == (True, 30.0)
    assert caught.value.reason == "SendGrid replied 429: too many"


def test_server_error_is_retried_with_backoff(server: SendgridServer, sleeps: list[float]) -> None:
    server.script(Reply(500, b"oops"), Reply(503))
    results = sender_for(server, sleeps, backoff=2).deliver(
        campaign_message(), envelopes(2), admit_all
    )
    assert sleeps == [2, 4]
    assert len(server.requests) == 3
    assert {r.outcome for r in results} == {Outcome.SENT}


def test_persistent_server_errors_are_a_temporary_provider_fault(
    server: SendgridServer, sleeps: list[float]
) -> None:
    server.script(*[Reply(502, b"bad gateway")] * 4)
    sender = sender_for(server, sleeps, backoff=1, max_attempts=4)
    admit = Admissions()
    with pytest.raises(ProviderUnavailable) as caught:
        sender.deliver(campaign_message(), envelopes(2), admit)
    assert sleeps == [1, 2, 4]
    assert len(server.requests) == 4
    assert caught.value.temporary is True
    assert caught.value.reason == "SendGrid replied 502: bad gateway"
    assert caught.value.results == []
    assert admit.calls == [[1, 2]]  # admitted once, whatever the retries


def test_backoff_is_bounded_by_max_wait(server: SendgridServer, sleeps: list[float]) -> None:
    server.script(*[Reply(500)] * 5)
    sender = sender_for(server, sleeps, backoff=10, max_wait=25, max_attempts=6)
    sender.deliver(campaign_message(), envelopes(1), admit_all)
    assert sleeps == [10, 20, 25, 25, 25]


def test_an_unreachable_host_is_retried_then_temporary(sleeps: list[float]) -> None:
    with SendgridServer() as gone:
        url = gone.url
    sender = SendgridSender("SG.k", host=url, timeout=2, sleep=sleeps.append, max_attempts=3)
    with pytest.raises(ProviderUnavailable) as caught:
        sender.deliver(campaign_message(), envelopes(1), admit_all)
    assert caught.value.temporary is True
    assert caught.value.reason.startswith(f"SendGrid at {url}: cannot connect")
    assert "refused" in caught.value.reason.lower()
    assert sleeps == [2.0, 4.0]


# --- in doubt: sent, no response -------------------------------------------------------------


def test_no_response_within_the_timeout_is_unknown_and_not_retried(
    server: SendgridServer, sleeps: list[float]
) -> None:
    late = threading.Event()
    server.script(Reply(202, headers={"X-Message-Id": "too-late"}, hold=late))
    try:
        results = sender_for(server, sleeps, timeout=3.0).deliver(
            campaign_message(), envelopes(2), admit_all
        )
    finally:
        late.set()
    assert [r.outcome for r in results] == [Outcome.UNKNOWN] * 2
    assert "no response to the request" in (results[0].error or "")
    assert "timed out" in (results[0].error or "")
    assert len(server.requests) == 1  # a retry here would be a silent duplicate
    assert sleeps == []


def test_a_connection_closed_without_a_response_is_unknown(
    server: SendgridServer, sleeps: list[float]
) -> None:
    server.script(Reply(drop=True))
    results = sender_for(server, sleeps).deliver(campaign_message(), envelopes(2), admit_all)
    assert [r.outcome for r in results] == [Outcome.UNKNOWN] * 2
    assert f"SendGrid at {server.url}: no response to the request" in (results[0].error or "")
    assert len(server.requests) == 1 and sleeps == []


def test_close_holds_nothing(server: SendgridServer, sleeps: list[float]) -> None:
    sender = sender_for(server, sleeps)
    sender.close()
    assert server.requests == []
