from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from dispatch.delivery.base import Outcome, Sender, SendResult
from dispatch.delivery.smtp import SmtpSender
from dispatch.delivery.smtp_pool import SmtpServerConfig
from support.outgoing import campaign_message, envelopes
from support.smtp_server import SmtpServer
from support.tls import tls_contexts


def sender_for(server: SmtpServer, pool_size: int = 2, **config: object) -> SmtpSender:
    options: dict[str, object] = {"security": "none", "timeout": 5.0} | config
    return SmtpSender(
        SmtpServerConfig(host=server.host, port=server.port, **options),  # type: ignore[arg-type]
        pool_size=pool_size,
    )


def by_id(results: Iterator[SendResult]) -> dict[int, SendResult]:
    out: dict[int, SendResult] = {}
    for result in results:
        assert result.delivery_id not in out, "two results for one envelope"
        out[result.delivery_id] = result
    return out


def test_two_hundred_messages_arrive_exactly_once_over_reused_connections() -> None:
    batch = envelopes(200)
    with SmtpServer() as server:
        sender = sender_for(server, pool_size=3)
        results = by_id(sender.send(campaign_message(), batch))
        sender.close()
    assert isinstance(sender, Sender)
    assert {r.outcome for r in results.values()} == {Outcome.SENT}
    assert len(results) == 200
    assert server.handler.recipients() == {e.recipient.email: 1 for e in batch}
    assert server.handler.sessions <= 3  # the pool, not one connection per message
    assert sender.pool.opened <= 3
    first = next(r for r in server.received if r.rcpt_tos == ["reader1@example.com"])
    assert first.mail_from == "briefing@news.example"
    parsed = first.message()
    assert parsed["Message-ID"] == batch[0].message_id
    assert parsed["List-Unsubscribe"].startswith("<https://news.example/unsubscribe/token1>")
    text_part = parsed.get_payload(0)
    assert isinstance(text_part, Message)
    assert b"Hello Reader <1> & Co" in text_part.get_payload(decode=True)


def test_connections_are_reused_across_batches() -> None:
    with SmtpServer() as server:
        sender = sender_for(server, pool_size=2)
        for start in (1, 51, 101):
            list(sender.send(campaign_message(), envelopes(50, start=start)))
        sender.close()
    assert len(server.received) == 150
    assert server.handler.sessions <= 2


def test_no_such_user_is_permanent_and_suppressed() -> None:
    with SmtpServer() as server:
        server.fail("reader2@example.com", "550 5.1.1 <reader2@example.com>: no such user")
        server.fail("reader3@example.com", "554 5.7.1 Rejected by policy")
        server.fail("reader4@example.com", "553 Mailbox name not allowed")
        sender = sender_for(server)
        results = by_id(sender.send(campaign_message(), envelopes(5)))
        sender.close()
    gone = results[2]
    assert (gone.outcome, gone.suppress) == (Outcome.PERMANENT, True)
    assert gone.error == "550 5.1.1 <reader2@example.com>: no such user"
    assert (results[3].outcome, results[3].suppress) == (Outcome.PERMANENT, False)
    assert (results[4].outcome, results[4].suppress) == (Outcome.PERMANENT, True)
    assert results[1].outcome is results[5].outcome is Outcome.SENT
    assert sorted(server.handler.recipients()) == ["reader1@example.com", "reader5@example.com"]


def test_temporary_refusal_is_temporary_then_succeeds_on_retry() -> None:
    with SmtpServer() as server:
        server.fail_temporarily("reader1@example.com", times=1)
        sender = sender_for(server)
        [first] = sender.send(campaign_message(), envelopes(1))
        [second] = sender.send(campaign_message(), envelopes(1))
        sender.close()
    assert first.outcome is Outcome.TEMPORARY
    assert first.error == "451 4.3.0 Temporary failure, try again later"
    assert not first.suppress
    assert second.outcome is Outcome.SENT
    assert server.handler.recipients() == {"reader1@example.com": 1}


@pytest.mark.parametrize("every", [1, 7])
def test_dropped_connections_lose_and_duplicate_nothing(every: int) -> None:
    batch = envelopes(60)
    with SmtpServer() as server:
        server.drop_every(every)
        sender = sender_for(server, pool_size=2)
        results = by_id(sender.send(campaign_message(), batch))
        sender.close()
    assert {r.outcome for r in results.values()} == {Outcome.SENT}
    assert server.handler.recipients() == {e.recipient.email: 1 for e in batch}
    assert server.handler.sessions >= 60 // every  # it did reconnect


def test_no_reply_to_data_in_time_is_temporary_and_not_resent_at_once() -> None:
    with SmtpServer() as server:
        server.handler.data_delay = 1.5
        sender = sender_for(server, timeout=0.5)
        [result] = sender.send(campaign_message(), envelopes(1))
        sender.close()
    assert result.outcome is Outcome.TEMPORARY
    assert "no reply to DATA" in (result.error or "")
    assert len(server.received) == 1  # accepted late, and not sent a second time


def test_unreachable_server_gives_temporary_results_naming_it() -> None:
    with SmtpServer() as server:
        port = server.port
    sender = SmtpSender(SmtpServerConfig(port=port, security="none", timeout=2), pool_size=1)
    results = list(sender.send(campaign_message(), envelopes(2)))
    sender.close()
    assert [r.outcome for r in results] == [Outcome.TEMPORARY] * 2
    assert f"cannot connect to SMTP server 127.0.0.1:{port}" in (results[0].error or "")


def test_a_silent_server_fails_the_batch_fast() -> None:
    with socket.socket() as silent:  # accepts TCP connections, never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        port = silent.getsockname()[1]
        sender = SmtpSender(SmtpServerConfig(port=port, security="none", timeout=0.3), 2)
        began = time.monotonic()
        results = list(sender.send(campaign_message(), envelopes(40)))
        elapsed = time.monotonic() - began
        sender.close()
    assert [r.outcome for r in results] == [Outcome.TEMPORARY] * 40
    assert "timed out" in (results[-1].error or "")
    assert elapsed < 3  # not 40 messages * 2 tries * 0.3 s / 2 workers = 12 s


def test_stopping_early_sends_nothing_more_of_the_batch() -> None:
    with SmtpServer() as server:
        sender = sender_for(server, pool_size=1)
        results = sender.send(campaign_message(), envelopes(100))
        next(results)
        results.close()
        sender.close()
        received = len(server.received)
    assert 1 <= received <= 3  # the one yielded, plus at most what was in flight


def test_starttls_is_required_and_used(tmp_path: Path) -> None:
    server_context, client_context = tls_contexts(tmp_path)
    with SmtpServer(tls_context=server_context, require_starttls=True) as server:
        plain = sender_for(server, security="none")
        [refused] = plain.send(campaign_message(), envelopes(1))
        plain.close()
        secure = sender_for(server, security="starttls", ssl_context=client_context)
        results = list(secure.send(campaign_message(), envelopes(3)))
        secure.close()
    assert refused.outcome is Outcome.TEMPORARY and "530" in (refused.error or "")
    assert [r.outcome for r in results] == [Outcome.SENT] * 3
    assert len(server.received) == 3


def test_starttls_refuses_an_untrusted_certificate(tmp_path: Path) -> None:
    server_context, _ = tls_contexts(tmp_path)
    with SmtpServer(tls_context=server_context, require_starttls=True) as server:
        sender = sender_for(server, security="starttls")  # the system's trust store
        [result] = sender.send(campaign_message(), envelopes(1))
        sender.close()
    assert result.outcome is Outcome.TEMPORARY
    assert "CERTIFICATE_VERIFY_FAILED" in (result.error or "")
    assert server.received == []


def test_implicit_tls(tmp_path: Path) -> None:
    server_context, client_context = tls_contexts(tmp_path)
    with SmtpServer(ssl_context=server_context) as server:
        sender = sender_for(server, security="tls", ssl_context=client_context)
        results = list(sender.send(campaign_message(), envelopes(4)))
        sender.close()
    assert [r.outcome for r in results] == [Outcome.SENT] * 4
    assert len(server.received) == 4


def check_password(
    server: object, session: object, envelope: object, mechanism: str, data: object
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"mailer", b"s3cret")
    return AuthResult(success=ok, handled=False)


@pytest.mark.parametrize(("password", "delivered"), [("s3cret", 2), ("wrong", 0)])
def test_authentication_after_starttls(tmp_path: Path, password: str, delivered: int) -> None:
    server_context, client_context = tls_contexts(tmp_path)
    with SmtpServer(
        tls_context=server_context, authenticator=check_password, auth_required=True
    ) as server:
        sender = sender_for(
            server,
            security="starttls",
            ssl_context=client_context,
            username="mailer",
            password=password,
        )
        results = list(sender.send(campaign_message(), envelopes(2)))
        sender.close()
    assert len(server.received) == delivered
    if delivered:
        assert [r.outcome for r in results] == [Outcome.SENT] * 2
    else:
        assert [r.outcome for r in results] == [Outcome.TEMPORARY] * 2
        assert "authentication failed: 535" in (results[0].error or "")
