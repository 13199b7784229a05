from __future__ import annotations

from email import message_from_bytes
from email.policy import default
from pathlib import Path

from dispatch.delivery.base import Outcome, Sender
from dispatch.delivery.outbox import OutboxSender
from support.outgoing import campaign_message, envelopes


def test_each_message_is_an_eml_file_per_campaign(tmp_path: Path) -> None:
    sender = OutboxSender(tmp_path / "outbox")
    message = campaign_message()
    batch = envelopes(3, campaign_id=12)
    results = list(sender.send(message, batch))
    assert isinstance(sender, Sender)
    assert [r.outcome for r in results] == [Outcome.SENT] * 3
    assert [r.provider_message_id for r in results] == ["1.eml", "2.eml", "3.eml"]
    folder = tmp_path / "outbox" / "12"
    assert sorted(p.name for p in folder.iterdir()) == ["1.eml", "2.eml", "3.eml"]
    for envelope in batch:
        data = (folder / f"{envelope.delivery_id}.eml").read_bytes()
        assert data == message.as_bytes(envelope)


def test_file_is_what_the_subscriber_would_get(tmp_path: Path) -> None:
    sender = OutboxSender(tmp_path)
    [envelope] = envelopes(1, campaign_id=3, start=41)
    list(sender.send(campaign_message(), [envelope]))
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
    list(sender.send(campaign_message("First subject"), batch))
    list(sender.send(campaign_message("Second subject"), batch[:1]))
    files = sorted(p.name for p in (tmp_path / "7").iterdir())
    assert files == ["1.eml", "2.eml"]  # no temporary file left behind, no second copy
    assert b"Second subject" in (tmp_path / "7" / "1.eml").read_bytes()
    assert b"First subject" in (tmp_path / "7" / "2.eml").read_bytes()


def test_results_are_yielded_one_at_a_time(tmp_path: Path) -> None:
    sender = OutboxSender(tmp_path)
    results = sender.send(campaign_message(), envelopes(3))
    first = next(results)
    assert first.delivery_id == 1
    assert sorted(p.name for p in (tmp_path / "7").iterdir()) == ["1.eml"]


def test_outbox_path_that_is_a_file_is_a_temporary_failure(tmp_path: Path) -> None:
    (tmp_path / "outbox").write_text("not a folder")
    [result] = OutboxSender(tmp_path / "outbox").send(campaign_message(), envelopes(1))
    assert result.outcome is Outcome.TEMPORARY
    assert "cannot write" in (result.error or "")
    assert "outbox/7/1.eml" in (result.error or "")
