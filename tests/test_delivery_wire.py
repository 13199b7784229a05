from __future__ import annotations

import random
from binascii import a2b_qp
from email.parser import BytesParser
from email.policy import default

import pytest

from dispatch.delivery.wire import QpTemplate, qp_body
from dispatch.delivery.wire_headers import (
    list_id_header,
    mailbox,
    unstructured,
    unsubscribe_header,
)
from dispatch.errors import InvalidAddress
from dispatch.render.prepared import SlotTemplate
from dispatch.render.slots import SlotRegistry

URL = "https://news.example/unsubscribe/WzQyXQ.abc"


def template(*parts: str | int) -> tuple[SlotTemplate, list[str]]:
    """A SlotTemplate from literal strings and slot numbers."""
    registry = SlotRegistry()
    tokens = [registry.token(("attribute", f"a{n}")) for n in range(3)]
    text = "".join(tokens[p] if isinstance(p, int) else p for p in parts)
    return SlotTemplate(text, registry), tokens


def expected(text: str) -> bytes:
    """What the reference (`EmailMessage.set_content`) sends: CRLF lines, ending in one."""
    return b"".join(line + b"\r\n" for line in text.encode().splitlines())


def header(raw: bytes, name: str) -> str:
    message = BytesParser(policy=default).parsebytes(raw + b"\r\n")
    return str(message[name])


@pytest.mark.parametrize(
    "values",
    [
        ["Lyon", "x", ""],
        ["", "", ""],
        ["a" * 300, "trailing space ", "tab\t"],
        ["=3D = ?=", ".", "\n.\n"],
        ["line\nbreak", "café — 李", "From the start"],
        ["ends in CR\r", "\r\nstarts with CRLF", "lone\rCR"],
    ],
)
def test_qp_template_decodes_to_the_filled_text(values: list[str]) -> None:
    slots, _ = template("<p>", 0, "</p>\n", 1, " ", 2, "\n.\n" + "long line " * 20, "end")
    encoded = QpTemplate(slots).fill(values)
    assert a2b_qp(encoded) == expected(slots.fill(values))
    assert all(len(line) <= 76 for line in encoded.split(b"\r\n"))
    assert b"\n" not in encoded.replace(b"\r\n", b"")
    assert b"\r" not in encoded.replace(b"\r\n", b"")


def test_qp_template_falls_back_when_chunks_cannot_be_encoded_alone() -> None:
    ends_with_slot, _ = template("Hi ", 0)
    split_crlf, _ = template("a\r", 0, "\nb")
    assert not QpTemplate(ends_with_slot).exact and not QpTemplate(split_crlf).exact
    assert a2b_qp(QpTemplate(ends_with_slot).fill(["Sam"])) == b"Hi Sam\r\n"
    assert a2b_qp(QpTemplate(split_crlf).fill([""])) == b"a\r\nb\r\n"
    assert QpTemplate(template("Hi ", 0, "!")[0]).exact


def test_random_bodies_never_contain_the_boundary_and_decode_exactly() -> None:
    rng = random.Random(11)
    alphabet = ["a", " ", "=", "\t", "\n", "\r", ".", "-", "--==_dispatch_x", "é", "\x00", "李"]
    slots, _ = template("--==_dispatch_x\n", 0, "=", 1, " \n", 2, "\n")
    quoted = QpTemplate(slots)
    for _ in range(500):
        values = ["".join(rng.choices(alphabet, k=rng.randrange(0, 120))) for _ in range(3)]
        encoded = quoted.fill(values)
        assert b"==_" not in encoded
        assert a2b_qp(encoded) == expected(slots.fill(values))
        assert a2b_qp(qp_body(slots.fill(values))) == a2b_qp(encoded)


def test_mailbox_quotes_encodes_and_refuses() -> None:
    assert mailbox("sam@example.com") == "sam@example.com"
    assert mailbox(" sam@example.com ", " Sam  Sample ") == "Sam  Sample <sam@example.com>"
    assert mailbox("a@b.example", 'Smith, "J" \\') == '"Smith, \\"J\\" \\\\" <a@b.example>'
    assert mailbox("a@b.example", "Zoë Ann") == "=?utf-8?q?Zo=C3=AB?= Ann <a@b.example>"
    assert "\n" not in mailbox("a@b.example", "Sam\r\nBcc: x@y.example")
    assert mailbox("sam@exämple.com") == "sam@xn--exmple-cua.com"  # IDNA A-labels on the wire
    assert mailbox("zoë@example.com") == "zoë@example.com"  # UTF-8: for SMTPUTF8 servers only
    bad_ones = (
        "nobody",
        "@example.com",
        "sam@",
        "sam@exa\N{GRINNING FACE}mple.com",
        "jo e@x.example",
    )
    for bad in bad_ones:
        with pytest.raises(InvalidAddress):
            mailbox(bad, "Sam")


def test_long_non_ascii_names_and_subjects_stay_within_line_limits() -> None:
    name = "Émile " * 200
    line = f"To: {mailbox('a@b.example', name)}\r\n".encode()
    assert all(len(part) <= 998 for part in line.split(b"\r\n"))
    assert BytesParser(policy=default).parsebytes(line + b"\r\n")["To"].addresses[0].display_name
    subject = "Café — " + "the harbour vote " * 12
    raw = unstructured("Subject", subject)
    assert all(len(part) <= 78 for part in raw.split(b"\r\n"))
    assert header(raw, "Subject") == subject
    plain = "The harbour vote " * 10
    raw = unstructured("Subject", plain.strip())
    assert b"=?" not in raw and all(len(part) <= 78 for part in raw.split(b"\r\n"))
    assert header(raw, "Subject") == plain.strip()
    assert header(unstructured("Subject", "a =?utf-8?q?b?= c"), "Subject") == "a =?utf-8?q?b?= c"


def test_list_id_header_encodes_only_the_name() -> None:
    assert list_id_header("Morning <m.news.example>") == b"List-Id: Morning <m.news.example>\r\n"
    raw = list_id_header("Café Crème <cafe.news.example>")
    assert raw.endswith(b" <cafe.news.example>\r\n") and b"=?utf-8?" in raw
    assert header(raw, "List-Id") == "Café Crème <cafe.news.example>"


def test_unsubscribe_header() -> None:
    assert unsubscribe_header(URL) == f"List-Unsubscribe: <{URL}>\r\n".encode()
    assert unsubscribe_header(URL + "\r\nX-Evil: 1", "u@news.example") == (
        f"List-Unsubscribe: <{URL} X-Evil: 1>, <mailto:u@news.example>\r\n".replace(
            " X-Evil: 1", "%20X-Evil:%201"
        ).encode()
    )
    assert b"caf%C3%A9" in unsubscribe_header("https://news.example/café")
    long = "https://news.example/" + "x" * 950
    folded = unsubscribe_header(long, "u@news.example")
    assert folded.count(b"\r\n") == 2 and all(len(p) <= 998 for p in folded.split(b"\r\n"))
    with pytest.raises(ValueError, match="http"):
        unsubscribe_header("javascript:alert(1)")
    with pytest.raises(ValueError, match="does not fit"):
        unsubscribe_header("https://news.example/" + "x" * 1000)
