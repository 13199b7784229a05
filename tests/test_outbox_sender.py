"""`OutboxSender`: each message an `.eml` file, written whole or not at all."""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from email import message_from_bytes
from email.policy import default
from pathlib import Path

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
from dispatch.delivery.outbox import OutboxSender
from support.outgoing import campaign_message, envelopes


class Admissions:
    def __init__(self, halt: str | None = None, watch: Path | None = None) -> None:
        self.calls: list[list[int]] = []
        self.files_then: list[list[str]] = []  # what the watched folder held at each call
        self.halt = halt
        self.watch = watch

    def __call__(self, batch: Sequence[Envelope]) -> None:
        if self.halt:
            raise Halt(self.halt)
        self.calls.append([e.delivery_id for e in batch])
        if self.watch is not None:
            self.files_then.append(sorted(p.name for p in self.watch.iterdir()))


def send_each(
    sender: OutboxSender, batch: Sequence[Envelope], subject: str = "Morning Briefing"
) -> list[SendResult]:
    message = campaign_message(subject)
    return [r for e in batch for r in sender.deliver(message, [e], admit_all)]


def test_each_message_is_an_eml_file_per_campaign(tmp_path: Path) -> None:
    sender = OutboxSender(tmp_path / "outbox", concurrency=3)
    message = campaign_message()
    batch = envelopes(3, campaign_id=12)
    results = [r for e in batch for r in sender.deliver(message, [e], admit_all)]
    assert isinstance(sender, Sender)
    assert (sender.name, sender.unit, sender.concurrency) == ("outbox", 1, 3)
    assert [r.outcome for r in results] == [Outcome.SENT] * 3
    assert [r.provider_message_id for r in results] == ["1.eml", "2.eml", "3.eml"]
    folder = tmp_path / "outbox" / "12"
    assert sorted(p.name for p in folder.iterdir()) == ["1.eml", "2.eml", "3.eml"]
    for envelope in batch:
        data = (folder / f"{envelope.delivery_id}.eml").read_bytes()
        assert data == message.as_bytes(envelope)
        assert sender.path(envelope) == folder / f"{envelope.delivery_id}.eml"


def test_file_is_what_the_subscriber_would_get(tmp_path: Path) -> None:
    sender = OutboxSender(tmp_path)
    [envelope] = envelopes(1, campaign_id=3, start=41)
    send_each(sender, [envelope])
    parsed = message_from_bytes((tmp_path / "3" / "41.eml").read_bytes(), policy=default)
    assert parsed["To"].addresses[0].addr_spec == "reader41@example.com"
    assert parsed["Message-ID"] == envelope.message_id
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    body = parsed.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Hello Reader <41> & Co in Port 41" in text


def test_resending_a_delivery_overwrites_its_file(tmp_path: Path) -> None:
    sender = OutboxSender(tmp_path, fsync=True)
    batch = envelopes(2)
    send_each(sender, batch, "First subject")
    send_each(sender, batch[:1], "Second subject")
    files = sorted(p.name for p in (tmp_path / "7").iterdir())
    assert files == ["1.eml", "2.eml"]  # no temporary file left behind, no second copy
    assert b"Second subject" in (tmp_path / "7" / "1.eml").read_bytes()
    assert b"First subject" in (tmp_path / "7" / "2.eml").read_bytes()


def test_admit_comes_before_the_file_is_written(tmp_path: Path) -> None:
    sender = OutboxSender(tmp_path)
    admit = Admissions(watch=tmp_path / "7")
    sender.deliver(campaign_message(), envelopes(3), admit)
    assert admit.calls == [[1], [2], [3]]
    assert admit.files_then == [[], ["1.eml"], ["1.eml", "2.eml"]]


def test_halt_writes_nothing(tmp_path: Path) -> None:
    sender = OutboxSender(tmp_path)
    with pytest.raises(Halt, match="cancelled"):
        sender.deliver(campaign_message(), envelopes(2), Admissions(halt="cancelled"))
    assert list((tmp_path / "7").iterdir()) == []


def test_an_international_address_is_written_as_it_would_be_sent(tmp_path: Path) -> None:
    sender = OutboxSender(tmp_path)
    batch = envelopes(2, emails=["idn@exämple.com", "jörg@bücher.example"])
    results = send_each(sender, batch)
    assert [r.outcome for r in results] == [Outcome.SENT] * 2
    first = message_from_bytes((tmp_path / "7" / "1.eml").read_bytes(), policy=default)
    assert first["To"].addresses[0].addr_spec == "idn@xn--exmple-cua.com"
    second = (tmp_path / "7" / "2.eml").read_bytes()
    assert "jörg@xn--bcher-kva.example".encode() in second  # RFC 6532: UTF-8 local part


def test_an_address_no_message_can_carry_fails_alone(tmp_path: Path) -> None:
    sender = OutboxSender(tmp_path)
    batch = envelopes(3, emails=["reader1@example.com", "snow@☃.example"])
    results = {r.delivery_id: r for r in send_each(sender, batch)}
    assert results[2].outcome is Outcome.PERMANENT
    assert "cannot be built" in (results[2].error or "")
    assert results[1].outcome is results[3].outcome is Outcome.SENT
    assert sorted(p.name for p in (tmp_path / "7").iterdir()) == ["1.eml", "3.eml"]


def test_an_outbox_folder_that_cannot_be_created_stops_the_campaign(tmp_path: Path) -> None:
    (tmp_path / "outbox").write_text("not a folder")
    admit = Admissions()
    with pytest.raises(ProviderUnavailable) as caught:
        OutboxSender(tmp_path / "outbox").deliver(campaign_message(), envelopes(2), admit)
    assert caught.value.temporary is False
    assert caught.value.reason.startswith(f"outbox: cannot create {tmp_path / 'outbox' / '7'}")
    assert admit.calls == []  # nothing was handed over
    assert caught.value.results == []


def test_a_write_that_fails_after_admit_is_temporary_and_leaves_nothing(tmp_path: Path) -> None:
    sender = OutboxSender(tmp_path)
    (tmp_path / "7" / "2.eml").mkdir(parents=True)  # something in the way of one file
    admit = Admissions()
    results = {r.delivery_id: r for r in sender.deliver(campaign_message(), envelopes(3), admit)}
    assert results[2].outcome is Outcome.TEMPORARY
    assert (results[2].error or "").startswith(f"cannot write {tmp_path / '7' / '2.eml'}: ")
    assert results[1].outcome is results[3].outcome is Outcome.SENT
    assert admit.calls == [[1], [2], [3]]
    assert sorted(p.name for p in (tmp_path / "7").iterdir()) == ["1.eml", "2.eml", "3.eml"]
    assert (tmp_path / "7" / "2.eml").is_dir()  # no temporary file left beside it


@pytest.mark.parametrize(
    ("code", "temporary"),
    [(errno.ENOSPC, True), (errno.EDQUOT, True), (errno.EROFS, False), (errno.EACCES, False)],
)
def test_a_disk_wide_write_failure_stops_the_campaign_and_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, temporary: bool
) -> None:
    """A full or read-only disk fails every message alike: the campaign pauses (and resumes
    by itself once space is free) instead of each recipient using up its attempts."""
    sender = OutboxSender(tmp_path, fsync=True)

    def failing(fd: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fsync", failing)
    admit = Admissions()
    with pytest.raises(ProviderUnavailable) as caught:
        sender.deliver(campaign_message(), envelopes(2), admit)
    assert caught.value.temporary is temporary
    target = tmp_path / "7" / "1.eml"
    assert caught.value.reason == f"outbox: cannot write {target}: {os.strerror(code)}"
    assert caught.value.results == []
    assert admit.calls == [[1]]  # admitted, not written: it goes back to pending
    assert list((tmp_path / "7").iterdir()) == []
