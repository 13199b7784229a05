from __future__ import annotations

import io
from pathlib import Path

import pytest

from conftest import DATA
from dispatch.errors import CsvRowError
from dispatch.subscribers.csv_rows import parse_header, read_records


def records(data: bytes) -> list[tuple[int, list[str], str | None]]:
    return [(r.line, r.fields, r.problem) for r in read_records(io.BytesIO(data))]


def header_of(data: bytes):
    return parse_header(next(read_records(io.BytesIO(data)), None), Path("in.csv"))


def test_physical_line_numbers_count_the_header_and_quoted_newlines() -> None:
    data = b'email,name\na@example.com,A\n\n"b@example.com","two\nlines"\nc@example.com,C\n'
    assert [(line, fields) for line, fields, _ in records(data)] == [
        (1, ["email", "name"]),
        (2, ["a@example.com", "A"]),
        (4, ["b@example.com", "two\nlines"]),
        (6, ["c@example.com", "C"]),
    ]


def test_bom_and_crlf_are_read_as_plain_text() -> None:
    found = records((DATA / "subscribers" / "excel-bom-crlf.csv").read_bytes())
    assert found[0] == (1, ["email", "name", "city"], None)
    assert found[2] == (3, ["dee@example.com", "Dee, Dawn", "Oslo"], None)


def test_bad_bytes_and_nul_are_problems_of_their_own_line_only() -> None:
    data = b"email\nok@example.com\ncaf\xe9@example.com\nn\x00l@example.com\nfine@example.com\n"
    found = records(data)
    assert [(line, problem) for line, _, problem in found] == [
        (1, None),
        (2, None),
        (3, "not valid UTF-8 (byte 0xe9)"),
        (4, "contains a NUL byte"),
        (5, None),
    ]


def test_header_maps_columns_case_insensitively_and_keeps_attribute_names() -> None:
    header = header_of(b" Email ,NAME,City,status,subscribed_at\n")
    assert (header.email, header.name, header.status) == (0, 1, 3)
    assert header.attributes == [(2, "City")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "in.csv:1: empty file"),
        (b"name,city\n", 'in.csv:1: bad header: no "email" column (found: name, city)'),
        (b"email,name,email\n", "in.csv:1: bad header: duplicate columns: email"),
        (b"email,,city\n", "in.csv:1: bad header: a column has an empty name"),
        (b"email,caf\xe9\n", "in.csv:1: header not valid UTF-8"),
    ],
)
def test_header_errors_are_one_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(CsvRowError) as caught:
        header_of(data)
    assert str(caught.value).startswith(message)
