from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from email.utils import parsedate_to_datetime

import pytest

from dispatch.delivery.mime import ListHeaders, Mailbox, build_message, header_text, list_id
from dispatch.errors import InvalidAddress

UNSUBSCRIBE = "https://news.example/unsubscribe/" + "WzQyLCJtb3JuaW5nLWJyaWVmaW5nIl0.x" * 4
WHEN = datetime(2026, 7, 4, 7, 0, tzinfo=UTC)


def build(**overrides: object) -> bytes:
    arguments: dict[str, object] = {
        "sender": Mailbox("briefing@news.example", "The Dispatch"),
        "to": Mailbox("sam@example.com", "Sam Sample"),
        "subject": "Morning Briefing: today",
        "html": "<p>Hello &amp; welcome</p>",
        "text": "Hello & welcome",
        "headers": ListHeaders(
            "morning-briefing",
            "Morning Briefing",
            "https://news.example",
            UNSUBSCRIBE,
            "unsubscribe@news.example",
        ),
        "reply_to": "editors@news.example",
        "date": WHEN,
    }
    arguments.update(overrides)
    return build_message(**arguments).as_bytes()  # type: ignore[arg-type]


def parse(raw: bytes) -> EmailMessage:
    return BytesParser(policy=default).parsebytes(raw)


def test_message_has_every_required_header_once() -> None:
    message = parse(build())
    for name in (
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "List-Id",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "Reply-To",
        "MIME-Version",
    ):
        assert len(message.get_all(name, [])) == 1, name
    assert message["From"].addresses[0].addr_spec == "briefing@news.example"
    assert message["To"].addresses[0].display_name == "Sam Sample"
    assert parsedate_to_datetime(str(message["Date"])) == WHEN
    assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith(
        "@news.example>"
    )
    assert message["List-Id"] == "Morning Briefing <morning-briefing.news.example>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_list_unsubscribe_is_plain_https_url_then_mailto() -> None:
    raw = build()
    header = next(line for line in raw.split(b"\r\n") if line.startswith(b"List-Unsubscribe:"))
    assert b"=?" not in header  # never RFC 2047-encoded, whatever the URL's length
    assert parse(raw)["List-Unsubscribe"] == (f"<{UNSUBSCRIBE}>, <mailto:unsubscribe@news.example>")


def test_multipart_alternative_text_first_then_html() -> None:
    message = parse(build())
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert parts[0].get_content().strip() == "Hello & welcome"
    assert parts[1].get_content().strip() == "<p>Hello &amp; welcome</p>"
    assert all(len(line) <= 998 for line in build().split(b"\r\n"))


def test_crlf_and_nul_never_reach_a_header_unfolded() -> None:
    raw = build(
        subject="Breaking\r\nBcc: victim@example.com\x00 news",
        to=Mailbox("sam@example.com", "Sam\nX-Evil: 1"),
        headers=ListHeaders(
            "morning-briefing",
            "Morning\r\nBriefing",
            "https://news.example",
            UNSUBSCRIBE + "\r\nX-Injected: yes",
        ),
    )
    message = parse(raw)
    assert message["Bcc"] is None and message["X-Evil"] is None and message["X-Injected"] is None
    assert message["Subject"] == "Breaking Bcc: victim@example.com news"
    assert b"\x00" not in raw
    assert message_from_bytes(raw, policy=default).defects == []


def test_header_text_replaces_line_breaks_and_nul() -> None:
    assert header_text("a\r\nb\nc\rd\x00e") == "a b c d e"
    assert (
        list_id("weekly", "Weekly\nReview", "http://127.0.0.1:8000")
        == "Weekly Review <weekly.127.0.0.1>"
    )


def test_non_ascii_display_name_is_encoded() -> None:
    message = parse(build(to=Mailbox("zoe@example.com", "Zoë Ångström")))
    assert message["To"].addresses[0].display_name == "Zoë Ångström"


def test_bad_address_and_non_http_unsubscribe_are_refused() -> None:
    with pytest.raises(InvalidAddress, match="not an email address"):
        build(to=Mailbox("nobody"))
    with pytest.raises(ValueError, match="http"):
        build(headers=ListHeaders("l", "L", "https://news.example", "javascript:alert(1)"))
