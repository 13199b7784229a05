"""`SmtpSender` against a real aiosmtpd server that misbehaves on cue: every
classification in `dispatch.delivery.smtp`'s docstring, one test (or more) each."""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from email import message_from_bytes
from email.message import Message
from email.policy import default
from pathlib import Path

import dkim
import idna
import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dispatch.delivery.base import (
    Envelope,
    Halt,
    Outcome,
    OutgoingMessage,
    ProviderUnavailable,
    Sender,
    SendResult,
    Substituted,
    admit_all,
)
from dispatch.delivery.dkim import DkimSigner
from dispatch.delivery.smtp import Signer, SmtpSender
from dispatch.delivery.smtp_pool import SmtpServerConfig
from support.outgoing import campaign_message, envelopes
from support.smtp_server import SmtpServer, free_port, refuse_every_login
from support.tls import tls_contexts

FROM = "briefing@news.example"


def sender_for(
    server: SmtpServer, pool_size: int = 2, signer: Signer | None = None, **config: object
) -> SmtpSender:
    options: dict[str, object] = {"security": "none", "timeout": 5.0} | config
    return SmtpSender(
        SmtpServerConfig(host=server.host, port=server.port, **options),  # type: ignore[arg-type]
        pool_size=pool_size,
        signer=signer,
    )


class Admissions:
    """An `admit` that records the ids it let through, or raises `Halt` when told to."""

    def __init__(self, halt: str | None = None) -> None:
        self.ids: list[int] = []
        self.halt = halt
        self.lock = threading.Lock()

    def __call__(self, batch: Sequence[Envelope]) -> None:
        with self.lock:
            if self.halt is not None:
                raise Halt(self.halt)
            self.ids.extend(e.delivery_id for e in batch)


def send_each(
    sender: SmtpSender,
    batch: Sequence[Envelope],
    message: OutgoingMessage | None = None,
    admit: Admissions | None = None,
) -> dict[int, SendResult]:
    """Each envelope in its own `deliver` (the engine's unit over SMTP is one message)."""
    message = message or campaign_message()
    out: dict[int, SendResult] = {}
    for envelope in batch:
        [result] = sender.deliver(message, [envelope], admit or admit_all)
        assert result.delivery_id == envelope.delivery_id
        out[result.delivery_id] = result
    return out


def deliver_one(
    sender: SmtpSender,
    envelope: Envelope,
    admit: Admissions | None = None,
    message: OutgoingMessage | None = None,
) -> SendResult:
    [result] = sender.deliver(message or campaign_message(), [envelope], admit or admit_all)
    return result


class Altered:
    """A campaign message whose bytes are changed by `alter(envelope, data)`: to make one
    recipient's message impossible to build, or a message too big to be buffered whole."""

    def __init__(self, alter: Callable[[Envelope, bytes], bytes]) -> None:
        self.inner = campaign_message()
        self.alter = alter

    from_email = property(lambda self: self.inner.from_email)
    from_name = property(lambda self: self.inner.from_name)
    reply_to = property(lambda self: self.inner.reply_to)
    subject = property(lambda self: self.inner.subject)

    def as_bytes(self, envelope: Envelope) -> bytes:
        return self.alter(envelope, self.inner.as_bytes(envelope))

    def personal_headers(self, envelope: Envelope) -> Mapping[str, str]:
        return self.inner.personal_headers(envelope)

    def substituted(self) -> Substituted:
        return self.inner.substituted()

    def substitutions(self, envelope: Envelope) -> Mapping[str, str]:
        return self.inner.substitutions(envelope)


def padded(envelope: Envelope, data: bytes) -> bytes:
    """8 MB more: far more than the socket buffers hold, so a drop is seen while writing."""
    return data + (b"x" * 76 + b"\r\n") * 110_000


# --- accepted ---------------------------------------------------------------------------


def test_two_hundred_messages_arrive_exactly_once_over_one_reused_connection() -> None:
    batch = envelopes(200)
    admit = Admissions()
    with SmtpServer() as server:
        sender = sender_for(server, pool_size=3)
        results = send_each(sender, batch, admit=admit)
        sender.close()
    assert isinstance(sender, Sender)
    assert (sender.name, sender.unit, sender.concurrency) == ("smtp", 1, 3)
    assert {r.outcome for r in results.values()} == {Outcome.SENT}
    assert len(results) == 200
    assert admit.ids == list(range(1, 201))
    assert server.handler.recipients() == {e.recipient.email: 1 for e in batch}
    assert server.handler.sessions == 1  # one thread: one connection, reused
    assert sender.pool.opened == 1
    first = next(r for r in server.received if r.rcpt_tos == ["reader1@example.com"])
    assert first.mail_from == FROM
    assert first.data == campaign_message().as_bytes(batch[0])  # byte for byte
    assert "SMTPUTF8" not in first.mail_options  # plain ASCII needs no extension
    parsed = first.message()
    assert parsed["Message-ID"] == batch[0].message_id
    assert parsed["List-Unsubscribe"].startswith("<https://news.example/unsubscribe/token1>")
    text_part = parsed.get_payload(0)
    assert isinstance(text_part, Message)
    assert b"Hello Reader <1> & Co" in text_part.get_payload(decode=True)


def test_sent_carries_the_queue_id_the_server_gave() -> None:
    batch = envelopes(2)
    with SmtpServer() as server:
        server.reply_after_data("reader1@example.com", "250 2.0.0 Ok: queued as 4ZxY12AbC")
        sender = sender_for(server)
        results = send_each(sender, batch)
        sender.close()
    assert results[1] == SendResult(1, Outcome.SENT, provider_message_id="4ZxY12AbC")
    assert results[2] == SendResult(2, Outcome.SENT, provider_message_id=batch[1].message_id)


def test_a_unit_is_one_message_and_more_is_refused() -> None:
    """One envelope per hand-over: a Halt or a refusal part-way through a longer unit would
    lose the results before it."""
    with SmtpServer() as server:
        sender = sender_for(server)
        assert sender.unit == 1
        with pytest.raises(ValueError, match="2 envelopes > unit 1"):
            sender.deliver(campaign_message(), envelopes(2), admit_all)
        server.fail("reader3@example.com")
        outcomes = [deliver_one(sender, e).outcome for e in envelopes(4)]
        sender.close()
    assert outcomes == [Outcome.SENT] * 2 + [Outcome.PERMANENT, Outcome.SENT]


def test_lines_starting_with_a_dot_arrive_unchanged() -> None:
    def dotted(envelope: Envelope, data: bytes) -> bytes:
        return data + b".\r\n..two dots\r\n.leading dot\r\n"

    message = Altered(dotted)
    [envelope] = envelopes(1)
    with SmtpServer() as server:
        sender = sender_for(server)
        assert deliver_one(sender, envelope, message=message).outcome is Outcome.SENT
        sender.close()
    assert server.received[0].data == message.as_bytes(envelope)


def test_several_threads_deliver_at_once_over_the_pool() -> None:
    batch = envelopes(120)
    admit = Admissions()
    with SmtpServer() as server:
        sender = sender_for(server, pool_size=3)
        message = campaign_message()

        def one(envelope: Envelope) -> SendResult:
            [result] = sender.deliver(message, [envelope], admit)
            return result

        with ThreadPoolExecutor(max_workers=3) as threads:
            results = list(threads.map(one, batch))
        sender.close()
    assert [r.delivery_id for r in results] == list(range(1, 121))
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert sorted(admit.ids) == list(range(1, 121))
    assert server.handler.recipients() == {e.recipient.email: 1 for e in batch}
    assert 1 <= sender.pool.opened <= 3  # never more connections than threads
    assert server.handler.sessions == sender.pool.opened


def test_connections_are_reused_across_calls_and_let_go_on_close() -> None:
    with SmtpServer() as server:
        sender = sender_for(server, pool_size=2)
        for start in (1, 51, 101):
            send_each(sender, envelopes(50, start=start))
        sender.close()
        assert sender.pool._idle.empty()
    assert len(server.received) == 150
    assert server.handler.sessions == 1


def test_admit_comes_just_before_each_message_is_handed_over() -> None:
    seen: list[tuple[int, int]] = []
    with SmtpServer() as server:

        def admit(batch: Sequence[Envelope]) -> None:
            seen.append((batch[0].delivery_id, len(server.received)))

        sender = sender_for(server)
        message = campaign_message()
        for envelope in envelopes(3):
            sender.deliver(message, [envelope], admit)
        sender.close()
    assert seen == [(1, 0), (2, 1), (3, 2)]


# --- refused per recipient ----------------------------------------------------------------


def test_no_such_user_is_permanent_and_suppressed() -> None:
    with SmtpServer() as server:
        server.fail("reader2@example.com", "550 5.1.1 <reader2@example.com>: no such user")
        server.fail("reader3@example.com", "554 5.7.1 Rejected by policy")
        server.fail("reader4@example.com", "553 Mailbox name not allowed")
        server.fail("reader6@example.com", "551 User not local")
        server.fail("reader7@example.com", "552 5.2.2 Mailbox full")
        sender = sender_for(server)
        results = send_each(sender, envelopes(7))
        sender.close()
    gone = results[2]
    assert (gone.outcome, gone.suppress) == (Outcome.PERMANENT, True)
    assert gone.error == "550 5.1.1 <reader2@example.com>: no such user"
    assert (results[3].outcome, results[3].suppress) == (Outcome.PERMANENT, False)
    assert (results[4].outcome, results[4].suppress) == (Outcome.PERMANENT, True)  # bare 553
    assert (results[6].outcome, results[6].suppress) == (Outcome.PERMANENT, True)  # bare 551
    assert (results[7].outcome, results[7].suppress) == (Outcome.PERMANENT, False)  # 5.2.2
    assert results[1].outcome is results[5].outcome is Outcome.SENT
    assert sorted(server.handler.recipients()) == ["reader1@example.com", "reader5@example.com"]
    assert server.handler.sessions == 1  # RSET after each refusal: the connection goes on


@pytest.mark.parametrize(
    "reply",
    ["451 4.3.0 Temporary failure, try again later", "452 4.2.2 Mailbox over quota"],
)
def test_a_temporary_refusal_is_temporary_then_succeeds_on_retry(reply: str) -> None:
    with SmtpServer() as server:
        server.fail_temporarily("reader1@example.com", times=1, reply=reply)
        sender = sender_for(server)
        first = deliver_one(sender, envelopes(1)[0])
        second = deliver_one(sender, envelopes(1)[0])
        sender.close()
    assert first == SendResult(1, Outcome.TEMPORARY, error=reply)
    assert second.outcome is Outcome.SENT
    assert server.handler.recipients() == {"reader1@example.com": 1}
    assert server.handler.sessions == 1


def test_greylisting_defers_every_first_try_and_accepts_the_second() -> None:
    batch = envelopes(5)
    with SmtpServer() as server:
        server.greylist()
        sender = sender_for(server)
        first = send_each(sender, batch)
        second = send_each(sender, batch)
        sender.close()
    assert {r.outcome for r in first.values()} == {Outcome.TEMPORARY}
    assert all((r.error or "").startswith("451 4.7.1 Greylisted") for r in first.values())
    assert not any(r.suppress for r in first.values())
    assert {r.outcome for r in second.values()} == {Outcome.SENT}
    assert server.handler.recipients() == {e.recipient.email: 1 for e in batch}


@pytest.mark.parametrize(
    ("reply", "outcome", "suppress"),
    [
        ("554 5.7.1 Message rejected as spam", Outcome.PERMANENT, False),
        ("550 5.1.1 Recipient address rejected", Outcome.PERMANENT, True),
        ("552 Message size exceeds fixed limit", Outcome.PERMANENT, False),  # bare, after DATA
        ("451 4.7.0 Try again later", Outcome.TEMPORARY, False),
    ],
)
def test_a_refusal_after_the_final_dot_is_that_recipients_alone(
    reply: str, outcome: Outcome, suppress: bool
) -> None:
    with SmtpServer() as server:
        server.reply_after_data("reader2@example.com", reply)
        sender = sender_for(server)
        results = send_each(sender, envelopes(3))
        sender.close()
    assert results[2] == SendResult(2, outcome, error=reply, suppress=suppress)
    assert results[1].outcome is results[3].outcome is Outcome.SENT
    assert sorted(server.handler.recipients()) == ["reader1@example.com", "reader3@example.com"]
    assert server.handler.sessions == 1


def test_421_after_the_final_dot_is_temporary_and_the_connection_not_reused() -> None:
    with SmtpServer() as server:
        server.reply_after_data("reader1@example.com", "421 4.3.0 Shutting down, not queued")
        sender = sender_for(server)
        results = send_each(sender, envelopes(2))
        sender.close()
    assert results[1] == SendResult(
        1, Outcome.TEMPORARY, error="421 4.3.0 Shutting down, not queued"
    )
    assert results[2].outcome is Outcome.SENT
    assert server.handler.transactions["reader1@example.com"] == 1  # not retried at once
    assert sender.pool.opened == 2


def test_a_refused_data_command_is_that_recipients_alone() -> None:
    with SmtpServer() as server:
        server.answer("DATA", "554 5.7.1 No thanks")
        sender = sender_for(server)
        results = send_each(sender, envelopes(2))
        sender.close()
    assert results[1] == SendResult(1, Outcome.PERMANENT, error="554 5.7.1 No thanks")
    assert results[2].outcome is Outcome.SENT


# --- in doubt: handed over, no answer -------------------------------------------------------


def test_no_reply_after_the_dot_is_unknown_and_the_server_has_it() -> None:
    batch = envelopes(2)
    with SmtpServer() as server:
        server.stall("reader1@example.com", 120)  # far beyond the client's timeout
        sender = sender_for(server, timeout=3.0)
        results = send_each(sender, batch)
        sender.close()
    assert results[1].outcome is Outcome.UNKNOWN
    assert "no reply after the message" in (results[1].error or "")
    assert results[2].outcome is Outcome.SENT  # on a new connection: the old one is unusable
    assert server.handler.recipients() == {"reader1@example.com": 1, "reader2@example.com": 1}
    assert server.handler.transactions["reader1@example.com"] == 1  # not sent a second time
    assert sender.pool.opened == 2


def test_a_drop_after_the_dot_before_the_reply_is_unknown_and_not_retried() -> None:
    with SmtpServer() as server:
        server.drop_after_data("reader1@example.com")
        sender = sender_for(server)
        results = send_each(sender, envelopes(2))
        sender.close()
    assert results[1].outcome is Outcome.UNKNOWN
    assert "no reply after the message" in (results[1].error or "")
    assert results[2].outcome is Outcome.SENT
    assert server.handler.recipients() == {"reader1@example.com": 1, "reader2@example.com": 1}
    assert server.handler.transactions["reader1@example.com"] == 1


@pytest.mark.parametrize("every", [1, 7])
def test_drops_after_the_250_lose_and_duplicate_nothing(every: int) -> None:
    batch = envelopes(60)
    with SmtpServer() as server:
        server.drop_every(every)
        sender = sender_for(server, pool_size=2)
        results = send_each(sender, batch)
        sender.close()
    assert {r.outcome for r in results.values()} == {Outcome.SENT}
    assert server.handler.recipients() == {e.recipient.email: 1 for e in batch}
    assert server.handler.sessions >= 60 // every  # it did reconnect


# --- not handed over: tried once more --------------------------------------------------------


def test_a_drop_before_the_end_of_the_message_is_retried_once_on_a_new_connection() -> None:
    message = Altered(padded)
    [envelope] = envelopes(1)
    admit = Admissions()
    with SmtpServer() as server:
        server.drop_during_data("reader1@example.com")
        sender = sender_for(server)
        [result] = sender.deliver(message, [envelope], admit)
        sender.close()
    assert result.outcome is Outcome.SENT
    assert admit.ids == [1]  # admitted once, though written twice
    assert server.handler.transactions["reader1@example.com"] == 2
    assert server.handler.recipients() == {"reader1@example.com": 1}
    assert server.received[0].data == message.as_bytes(envelope)
    assert sender.pool.opened == 2


def test_a_drop_at_the_data_command_is_retried_once() -> None:
    with SmtpServer() as server:
        server.answer("DATA", None)  # the connection closes with no reply
        sender = sender_for(server)
        result = deliver_one(sender, envelopes(1)[0])
        sender.close()
    assert result.outcome is Outcome.SENT
    assert server.handler.recipients() == {"reader1@example.com": 1}
    assert sender.pool.opened == 2


@pytest.mark.parametrize("command", ["MAIL", "RCPT", "DATA"])
def test_421_to_a_command_is_retried_once_on_a_new_connection(command: str) -> None:
    with SmtpServer() as server:
        server.answer(command, "421 4.7.0 Too many connections, closing")
        sender = sender_for(server)
        result = deliver_one(sender, envelopes(1)[0])
        sender.close()
    assert result.outcome is Outcome.SENT
    assert server.handler.recipients() == {"reader1@example.com": 1}
    assert sender.pool.opened == 2


def test_dropped_twice_before_the_end_is_a_temporary_provider_fault() -> None:
    message = Altered(padded)
    with SmtpServer() as server:
        server.drop_during_data("reader1@example.com", times=2)
        sender = sender_for(server)
        with pytest.raises(ProviderUnavailable) as caught:
            sender.deliver(message, envelopes(1), admit_all)
        sender.close()
    assert caught.value.temporary is True
    assert f"{server.host}:{server.port}: connection lost" in caught.value.reason
    assert caught.value.results == []
    assert server.received == []
    assert server.handler.transactions["reader1@example.com"] == 2


def test_a_pooled_connection_the_server_closed_meanwhile_is_replaced() -> None:
    with SmtpServer() as server:
        sender = sender_for(server, pool_size=1)
        assert deliver_one(sender, envelopes(1)[0]).outcome is Outcome.SENT
        server.stop()  # the idle connection in the pool is now dead
        server.start()
        result = deliver_one(sender, envelopes(1, start=2)[0])
        sender.close()
    assert result.outcome is Outcome.SENT
    assert server.handler.recipients() == {"reader1@example.com": 1, "reader2@example.com": 1}


def test_after_an_outage_every_dead_pooled_connection_is_replaced() -> None:
    """Two idle connections die in a restart; the next message still goes (the retry must
    not take the second dead one)."""
    with SmtpServer() as server:
        sender = sender_for(server, pool_size=2)
        both = threading.Barrier(2)
        message = campaign_message()
        with ThreadPoolExecutor(max_workers=2) as threads:  # two connections in use at once
            list(
                threads.map(
                    lambda e: sender.deliver(message, [e], lambda _: both.wait(10)),
                    envelopes(2),
                )
            )
        assert sender.pool.opened == 2
        server.stop()
        server.start()
        result = deliver_one(sender, envelopes(1, start=3)[0])
        sender.close()
    assert result.outcome is Outcome.SENT
    assert server.handler.recipients()["reader3@example.com"] == 1


# --- the provider, not the recipient: ProviderUnavailable -----------------------------------


def test_an_unreachable_server_is_temporary_and_nothing_is_admitted() -> None:
    port = free_port()  # nobody listens there
    sender = SmtpSender(SmtpServerConfig(port=port, security="none", timeout=2), pool_size=1)
    admit = Admissions()
    with pytest.raises(ProviderUnavailable) as caught:
        sender.deliver(campaign_message(), envelopes(1), admit)
    sender.close()
    assert caught.value.temporary is True
    assert f"cannot connect to SMTP server 127.0.0.1:{port}" in caught.value.reason
    assert admit.ids == []


def test_an_outage_pauses_and_the_server_coming_back_resumes() -> None:
    with SmtpServer() as server:
        sender = sender_for(server, pool_size=1)
        assert deliver_one(sender, envelopes(1)[0]).outcome is Outcome.SENT
        back = server.outage(2.0)  # long enough to be sure to try while it is down
        with pytest.raises(ProviderUnavailable) as caught:
            deliver_one(sender, envelopes(1, start=2)[0])
        back.join()
        result = deliver_one(sender, envelopes(1, start=2)[0])
        sender.close()
    assert caught.value.temporary is True
    assert result.outcome is Outcome.SENT
    assert server.handler.recipients() == {"reader1@example.com": 1, "reader2@example.com": 1}


def test_421_at_the_greeting_is_temporary() -> None:
    admit = Admissions()
    with SmtpServer() as server:
        server.greet("421 4.3.2 Service not available, try later")
        sender = sender_for(server)
        with pytest.raises(ProviderUnavailable) as caught:
            sender.deliver(campaign_message(), envelopes(1), admit)
        later = deliver_one(sender, envelopes(1)[0])
        sender.close()
    assert caught.value.temporary is True
    assert "421" in caught.value.reason and "try later" in caught.value.reason
    assert admit.ids == []
    assert later.outcome is Outcome.SENT


def test_a_554_greeting_needs_someone_to_look() -> None:
    """Turned away for good (blocklisted, not allowed to relay): no automatic resume."""
    with SmtpServer() as server:
        server.greet("554 5.7.1 Your IP is listed at a blocklist")
        sender = sender_for(server)
        with pytest.raises(ProviderUnavailable) as caught:
            sender.deliver(campaign_message(), envelopes(1), admit_all)
        sender.close()
    assert caught.value.temporary is False
    assert "554" in caught.value.reason and "blocklist" in caught.value.reason


def test_a_silent_server_is_temporary() -> None:
    with socket_listening() as port:  # accepts TCP connections, never greets
        sender = SmtpSender(SmtpServerConfig(port=port, security="none", timeout=0.5), 2)
        with pytest.raises(ProviderUnavailable) as caught:
            sender.deliver(campaign_message(), envelopes(1), admit_all)
        sender.close()
    assert caught.value.temporary is True
    assert "timed out" in caught.value.reason


@contextlib.contextmanager
def socket_listening() -> Iterator[int]:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        yield silent.getsockname()[1]


@pytest.mark.parametrize(
    ("reply", "temporary"),
    [("550 5.7.1 Sender address rejected: not owned by user", False), ("451 4.3.0 Later", True)],
)
def test_mail_from_refused_is_the_providers_fault_not_the_recipients(
    reply: str, temporary: bool
) -> None:
    with SmtpServer() as server:
        server.answer("MAIL", reply)
        sender = sender_for(server)
        with pytest.raises(ProviderUnavailable) as caught:
            sender.deliver(campaign_message(), envelopes(1), admit_all)
        after = deliver_one(sender, envelopes(1, start=2)[0])
        sender.close()
    assert caught.value.temporary is temporary
    assert caught.value.reason == f"MAIL FROM <{FROM}> refused: {reply}"
    assert server.handler.recipients() == {"reader2@example.com": 1}
    assert after.outcome is Outcome.SENT


def check_password(
    server: object, session: object, envelope: object, mechanism: str, data: object
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"mailer", b"s3cret")
    return AuthResult(success=ok, handled=False)


def test_authentication_after_starttls(tmp_path: Path) -> None:
    server_context, client_context = tls_contexts(tmp_path)
    with SmtpServer(
        tls_context=server_context, authenticator=check_password, auth_required=True
    ) as server:
        sender = sender_for(
            server,
            security="starttls",
            ssl_context=client_context,
            username="mailer",
            password="s3cret",
        )
        results = send_each(sender, envelopes(2))
        sender.close()
    assert [r.outcome for r in results.values()] == [Outcome.SENT] * 2
    assert len(server.received) == 2


@pytest.mark.parametrize("authenticator", [check_password, refuse_every_login])
def test_refused_authentication_needs_the_settings_fixed(
    tmp_path: Path, authenticator: Callable[..., AuthResult]
) -> None:
    server_context, client_context = tls_contexts(tmp_path)
    admit = Admissions()
    with SmtpServer(
        tls_context=server_context, authenticator=authenticator, auth_required=True
    ) as server:
        sender = sender_for(
            server,
            security="starttls",
            ssl_context=client_context,
            username="mailer",
            password="wrong",
        )
        with pytest.raises(ProviderUnavailable) as caught:
            sender.deliver(campaign_message(), envelopes(1), admit)
        sender.close()
    assert caught.value.temporary is False
    assert "authentication failed: 535" in caught.value.reason
    assert f"{server.host}:{server.port}" in caught.value.reason
    assert admit.ids == [] and server.received == []


def test_a_server_without_auth_refuses_a_configured_username() -> None:
    with SmtpServer() as server:  # no TLS: aiosmtpd offers no AUTH on a plain connection
        sender = sender_for(server, username="mailer", password="s3cret")
        with pytest.raises(ProviderUnavailable) as caught:
            sender.deliver(campaign_message(), envelopes(1), admit_all)
        sender.close()
    assert caught.value.temporary is False
    assert "not supported" in caught.value.reason
    assert server.received == []


def test_starttls_is_used_and_required(tmp_path: Path) -> None:
    server_context, client_context = tls_contexts(tmp_path)
    with SmtpServer(tls_context=server_context, require_starttls=True) as server:
        plain = sender_for(server, security="none")
        with pytest.raises(ProviderUnavailable) as caught:
            plain.deliver(campaign_message(), envelopes(1), admit_all)
        plain.close()
        secure = sender_for(server, security="starttls", ssl_context=client_context)
        results = send_each(secure, envelopes(3))
        secure.close()
    assert caught.value.temporary is False
    assert "530" in caught.value.reason and "STARTTLS" in caught.value.reason
    assert [r.outcome for r in results.values()] == [Outcome.SENT] * 3
    assert len(server.received) == 3


def test_starttls_refuses_an_untrusted_certificate(tmp_path: Path) -> None:
    server_context, _ = tls_contexts(tmp_path)
    admit = Admissions()
    with SmtpServer(tls_context=server_context, require_starttls=True) as server:
        sender = sender_for(server, security="starttls")  # the system's trust store
        with pytest.raises(ProviderUnavailable) as caught:
            sender.deliver(campaign_message(), envelopes(1), admit)
        sender.close()
    assert caught.value.temporary is False
    assert "TLS failed" in caught.value.reason
    assert "CERTIFICATE_VERIFY_FAILED" in caught.value.reason
    assert admit.ids == [] and server.received == []


def test_starttls_not_offered_needs_the_settings_fixed() -> None:
    with SmtpServer() as server:  # no tls_context: no STARTTLS in EHLO
        sender = sender_for(server, security="starttls")
        with pytest.raises(ProviderUnavailable) as caught:
            sender.deliver(campaign_message(), envelopes(1), admit_all)
        sender.close()
    assert caught.value.temporary is False
    assert "STARTTLS" in caught.value.reason
    assert server.received == []


def test_implicit_tls(tmp_path: Path) -> None:
    server_context, client_context = tls_contexts(tmp_path)
    with SmtpServer(ssl_context=server_context) as server:
        sender = sender_for(server, security="tls", ssl_context=client_context)
        results = send_each(sender, envelopes(4))
        sender.close()
    assert [r.outcome for r in results.values()] == [Outcome.SENT] * 4
    assert len(server.received) == 4


def test_implicit_tls_refuses_an_untrusted_certificate(tmp_path: Path) -> None:
    server_context, _ = tls_contexts(tmp_path)
    with SmtpServer(ssl_context=server_context) as server:
        sender = sender_for(server, security="tls")
        with pytest.raises(ProviderUnavailable) as caught:
            sender.deliver(campaign_message(), envelopes(1), admit_all)
        sender.close()
    assert caught.value.temporary is False
    assert "TLS failed" in caught.value.reason
    assert server.received == []


# --- admit says stop ----------------------------------------------------------------------


def test_halt_from_admit_sends_nothing_and_returns_the_connection() -> None:
    with SmtpServer() as server:
        sender = sender_for(server, pool_size=1)
        with pytest.raises(Halt, match="paused by an editor"):
            sender.deliver(campaign_message(), envelopes(1), Admissions(halt="paused by an editor"))
        assert server.received == []
        assert sender.pool._idle.qsize() == 1  # given back, not lost or closed
        later = deliver_one(sender, envelopes(1, start=2)[0])
        sender.close()
    assert later.outcome is Outcome.SENT
    assert sender.pool.opened == 1 and server.handler.sessions == 1
    assert server.handler.recipients() == {"reader2@example.com": 1}


# --- international addresses ---------------------------------------------------------------


def to_header(data: bytes) -> str:
    return str(message_from_bytes(data, policy=default)["To"])


def test_idn_domains_go_out_as_a_labels_in_rcpt_and_to() -> None:
    batch = envelopes(3, emails=["idn@exämple.com", "x@bücher.example"])
    with SmtpServer() as server:
        sender = sender_for(server)
        results = send_each(sender, batch)
        sender.close()
    assert {r.outcome for r in results.values()} == {Outcome.SENT}
    a_labels = {
        "idn@xn--exmple-cua.com": "idn@xn--exmple-cua.com",
        "x@xn--bcher-kva.example": "x@xn--bcher-kva.example",
    }
    by_rcpt = {item.rcpt_tos[0]: item for item in server.received}
    assert set(a_labels) < set(by_rcpt)
    for rcpt in a_labels:
        item = by_rcpt[rcpt]
        assert "SMTPUTF8" not in item.mail_options  # an ASCII local part needs no SMTPUTF8
        assert rcpt in to_header(item.data)
        assert item.data.isascii()
    assert idna.encode("exämple.com").decode() == "xn--exmple-cua.com"


def test_a_non_ascii_local_part_goes_with_smtputf8_when_offered() -> None:
    batch = envelopes(3, emails=["jörg@example.com", "用户@例子.广告"])
    with SmtpServer() as server:  # aiosmtpd's controller offers SMTPUTF8
        sender = sender_for(server)
        results = send_each(sender, batch)
        sender.close()
    assert {r.outcome for r in results.values()} == {Outcome.SENT}
    by_rcpt = {item.rcpt_tos[0]: item for item in server.received}
    domain = idna.encode("例子.广告").decode()
    assert set(by_rcpt) == {"jörg@example.com", f"用户@{domain}", "reader3@example.com"}
    for rcpt in ("jörg@example.com", f"用户@{domain}"):
        item = by_rcpt[rcpt]
        assert item.mail_options == ["SMTPUTF8", "BODY=8BITMIME"]
        assert rcpt in to_header(item.data)  # RFC 6532: UTF-8 in the header itself
    assert "SMTPUTF8" not in by_rcpt["reader3@example.com"].mail_options


def test_a_non_ascii_local_part_fails_alone_when_smtputf8_is_withheld() -> None:
    batch = envelopes(3, emails=["reader1@example.com", "jörg@example.com"])
    admit = Admissions()
    with SmtpServer(enable_SMTPUTF8=False) as server:
        sender = sender_for(server)
        results = send_each(sender, batch, admit=admit)
        sender.close()
    refused = results[2]
    assert (refused.outcome, refused.suppress) == (Outcome.PERMANENT, False)
    assert "'jörg@example.com' has a non-ASCII local part" in (refused.error or "")
    assert f"{server.host}:{server.port} does not offer SMTPUTF8" in (refused.error or "")
    assert results[1].outcome is results[3].outcome is Outcome.SENT
    assert admit.ids == [1, 3]  # never handed over
    assert sorted(server.handler.recipients()) == ["reader1@example.com", "reader3@example.com"]
    assert server.handler.sessions == 1  # the connection went on serving the others


def test_smtputf8_without_8bitmime_still_carries_the_message() -> None:
    """RFC 6531 servers should offer 8BITMIME too; one that does not must not be asked for it
    (aiosmtpd with decode_data offers SMTPUTF8 alone and refuses BODY=8BITMIME)."""
    batch = envelopes(2, emails=["jörg@example.com"])
    with SmtpServer(decode_data=True) as server:
        sender = sender_for(server)
        results = send_each(sender, batch)
        sender.close()
    assert {r.outcome for r in results.values()} == {Outcome.SENT}
    assert server.handler.recipients() == {"jörg@example.com": 1, "reader2@example.com": 1}


# --- a message that cannot be built ----------------------------------------------------------


def test_a_message_that_cannot_be_built_fails_that_recipient_alone() -> None:
    def refuse_one(envelope: Envelope, data: bytes) -> bytes:
        if envelope.recipient.email == "reader2@example.com":
            raise ValueError("the template cannot take this value")
        return data

    admit = Admissions()
    with SmtpServer() as server:
        sender = sender_for(server)
        results = send_each(sender, envelopes(3), Altered(refuse_one), admit)
        sender.close()
    assert results[2].outcome is Outcome.PERMANENT
    assert results[2].error == (
        "message for 'reader2@example.com' cannot be built: the template cannot take this value"
    )
    assert not results[2].suppress
    assert results[1].outcome is results[3].outcome is Outcome.SENT
    assert admit.ids == [1, 3]
    assert sorted(server.handler.recipients()) == ["reader1@example.com", "reader3@example.com"]


def test_an_address_with_no_idna_form_fails_alone() -> None:
    batch = envelopes(3, emails=["reader1@example.com", "snow@☃.example"])
    with SmtpServer() as server:
        sender = sender_for(server)
        results = send_each(sender, batch)
        sender.close()
    assert results[2].outcome is Outcome.PERMANENT
    assert "'snow@☃.example' cannot be built" in (results[2].error or "")
    assert "not a usable email address" in (results[2].error or "")
    assert results[1].outcome is results[3].outcome is Outcome.SENT


# --- DKIM -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_every_message_is_dkim_signed_verifiably(rsa_key: rsa.RSAPrivateKey) -> None:
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    signer = DkimSigner("news.example", "dispatch", pem)
    public = rsa_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"dispatch._domainkey.news.example."
        return record

    batch = envelopes(3, emails=["reader1@example.com", "x@bücher.example"])
    with SmtpServer() as server:
        sender = sender_for(server, signer=signer)
        results = send_each(sender, batch)
        sender.close()
    assert {r.outcome for r in results.values()} == {Outcome.SENT}
    assert len(server.received) == 3
    for item in server.received:
        assert item.data.startswith(b"DKIM-Signature:")
        assert dkim.verify(item.data, dnsfunc=dns)


def test_a_dkim_key_that_cannot_sign_stops_before_anything_is_sent() -> None:
    class Broken:
        def sign(self, message: bytes) -> bytes:
            raise ValueError("DKIM signing for news.example failed: key too short")

    admit = Admissions()
    with SmtpServer() as server:
        sender = sender_for(server, signer=Broken())
        with pytest.raises(ProviderUnavailable) as caught:
            sender.deliver(campaign_message(), envelopes(1), admit)
        sender.close()
    assert caught.value.temporary is False
    assert "DKIM signing failed" in caught.value.reason
    assert admit.ids == [] and server.received == []


def test_with_pipelining_each_answer_still_goes_to_its_recipient() -> None:
    """To a server offering PIPELINING, MAIL, RCPT and DATA go in one write; the replies
    are read back in order and classified exactly as when sent one by one."""
    with SmtpServer(pipelining=True) as server:
        server.fail("reader2@example.com", "550 5.1.1 No such user")
        server.fail_temporarily("reader3@example.com", 1)
        server.reply_after_data("reader4@example.com", "554 5.7.1 Content refused")
        sender = sender_for(server, pool_size=1)
        connection = sender.pool.acquire()
        assert connection.has_extn("pipelining")
        sender.pool.release(connection)
        results = [deliver_one(sender, e) for e in envelopes(5)]
        sender.close()
    assert [r.outcome for r in results] == [
        Outcome.SENT,
        Outcome.PERMANENT,
        Outcome.TEMPORARY,
        Outcome.PERMANENT,
        Outcome.SENT,
    ]
    assert results[1].suppress and not results[3].suppress
    assert set(server.handler.recipients()) == {"reader1@example.com", "reader5@example.com"}
    assert server.handler.sessions == 1  # refusals were reset, the connection kept


def test_with_pipelining_a_refused_sender_stops_the_campaign() -> None:
    with SmtpServer(pipelining=True) as server:
        server.answer("MAIL", "553 5.7.1 Sender address rejected")
        sender = sender_for(server, pool_size=1)
        with pytest.raises(ProviderUnavailable) as caught:
            deliver_one(sender, envelopes(1)[0])
        sender.close()
    assert caught.value.temporary is False and "553" in caught.value.reason
    assert server.received == []
