"""Reading bounce mail: the corpus of real-world formats, `dispatch bounces parse` over
single messages, mbox files and Maildir folders with every line end, and odd input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from dispatch.bounces.report import parse_report
from dispatch.cli import app
from support.bounces import CORPUS

EXPECTED: dict[str, dict[str, object]] = json.loads((CORPUS / "expected.json").read_text())
ENDINGS = {"lf": b"\n", "crlf": b"\r\n", "cr": b"\r"}


def parse_cli(*args: str) -> Result:
    return CliRunner().invoke(app, ["bounces", "parse", *args])


def with_ending(data: bytes, ending: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", ending)


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("ending", sorted(ENDINGS))
def test_each_sample_is_read_as_expected(name: str, ending: str) -> None:
    report = parse_report(with_ending((CORPUS / name).read_bytes(), ENDINGS[ending]))
    found = {"kind": report.kind.value, "recipients": report.recipients, "status": report.status}
    assert found == EXPECTED[name]


def test_reports_carry_what_ties_them_to_a_delivery() -> None:
    ours = "<0123456789abcdef0123456789abcdef.1@dispatch.example>"
    verp = "bounces+1.1.aaaaaaaaaaaaaaaa@bounces.dispatch.example"
    for name in ("gmail-hard.eml", "outlook-hard.eml", "qmail-hard.eml", "arf-complaint.eml"):
        report = parse_report((CORPUS / name).read_bytes())
        assert report.original_message_id == ours, name
        assert verp in report.return_paths, name
    gmail = parse_report((CORPUS / "gmail-hard.eml").read_bytes())
    assert gmail.diagnostic is not None and "does not exist" in gmail.diagnostic
    assert gmail.date is not None and gmail.date.utcoffset() is not None
    delayed = parse_report((CORPUS / "postfix-delayed.eml").read_bytes())
    assert [f.final for f in delayed.findings] == [False]


def test_parse_json_prints_one_object_per_message() -> None:
    files = [str(CORPUS / name) for name in sorted(EXPECTED)]
    result = parse_cli("--json", *files)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [Path(line["source"]).name for line in lines] == sorted(EXPECTED)
    for line in lines:
        assert set(line) == {"source", "kind", "recipients", "status", "diagnostic"}
        want = EXPECTED[Path(line["source"]).name]
        assert (line["kind"], line["recipients"], line["status"]) == (
            want["kind"],
            want["recipients"],
            want["status"],
        )


def test_parse_prints_a_line_per_message_and_records_nothing() -> None:
    result = parse_cli(str(CORPUS / "postfix-hard.eml"), str(CORPUS / "vacation.eml"))
    assert result.exit_code == 0, result.output
    first, second = result.output.splitlines()
    assert first.endswith(
        "hard nouser@postfix.example 5.1.1 (550 5.1.1 <nouser@postfix.example>: "
        "Recipient address rejected: User unknown in local recipient table)"
    )
    assert second.endswith("vacation.eml: auto-reply")


def mbox(names: list[str], ending: bytes) -> bytes:
    """An mbox of the samples; a body line starting with "From " is quoted as ">From "."""
    chunks = []
    for name in names:
        body = (CORPUS / name).read_bytes().replace(b"\r\n", b"\n")
        body = body.replace(b"\nGood morning.", b"\nFrom the desk: good morning.")
        body = body.replace(b"\nFrom the desk", b"\n>From the desk")
        chunks.append(b"From MAILER-DAEMON Tue Dec  1 15:00:00 2026\n" + body + b"\n")
    return with_ending(b"".join(chunks), ending)


@pytest.mark.parametrize("ending", sorted(ENDINGS))
def test_mbox_files_with_any_line_end(tmp_path: Path, ending: str) -> None:
    names = ["qmail-hard.eml", "arf-complaint.eml", "human-reply.eml", "postfix-hard.eml"]
    path = tmp_path / "bounces.mbox"
    path.write_bytes(mbox(names, ENDINGS[ending]))
    result = parse_cli("--json", str(path))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["source"] for line in lines] == [f"{path}#{n}" for n in range(1, 5)]
    assert [line["kind"] for line in lines] == [EXPECTED[n]["kind"] for n in names]
    assert [line["recipients"] for line in lines] == [EXPECTED[n]["recipients"] for n in names]


def test_maildir_folders(tmp_path: Path) -> None:
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1.host").write_bytes((CORPUS / "gmail-hard.eml").read_bytes())
    crlf = with_ending((CORPUS / "exim-hard.eml").read_bytes(), b"\r\n")
    (maildir / "cur" / "2.host:2,S").write_bytes(crlf)
    (maildir / "tmp" / "3.host").write_bytes(b"half written")
    result = parse_cli("--json", str(maildir))
    assert result.exit_code == 0, result.output
    kinds = [json.loads(line)["kind"] for line in result.output.splitlines()]
    assert kinds == ["hard", "hard"]


def test_unreadable_paths_are_named_and_the_rest_still_parsed(tmp_path: Path) -> None:
    plain = tmp_path / "folder"
    plain.mkdir()
    result = parse_cli(str(tmp_path / "missing.eml"), str(plain), str(CORPUS / "qmail-hard.eml"))
    assert result.exit_code == 1
    assert "missing.eml: cannot read" in result.output
    assert "not a Maildir" in result.output
    assert "qmail-hard.eml: hard gone@qmail.example" in result.output


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\xff\xfe" * 100,
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\n\n--x\n",
        b"Content-Type: multipart/report; report-type=feedback-report\n\nno parts",
        "Subject: Zoë\nFrom: ünïcode@exämple.org\n\n¿qué?".encode(),
        b"X-Failed-Recipients: \n\n" + b"a" * 300_000,
    ],
)
def test_odd_input_is_not_a_bounce(data: bytes) -> None:
    assert parse_report(data).kind.value in ("not-bounce", "complaint", "hard")
    report = parse_report(data)
    assert report.kind.value == "not-bounce" or not report.recipients


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000))
def test_any_bytes_parse_without_raising(data: bytes) -> None:
    report = parse_report(data)
    assert report.kind.value in {"hard", "soft", "complaint", "auto-reply", "not-bounce"}


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(EXPECTED)), st.integers(min_value=0, max_value=4000))
def test_any_truncation_of_a_sample_parses(name: str, cut: int) -> None:
    parse_report((CORPUS / name).read_bytes()[:cut])
