from __future__ import annotations

from pathlib import Path

import pytest

from dispatch.errors import IngestError
from dispatch.ingest.files import Kind, decode, discover, kind_of, read_text


def test_reads_utf8_and_normalises_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes("\ufeffTitle \u2011 one\r\n\r\nBody\r\n".encode())
    assert read_text(path, 1000).text == "Title \u2011 one\n\nBody\n"


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.md"
    path.write_text("  \n\n")
    with pytest.raises(IngestError) as caught:
        read_text(path, 1000)
    assert str(caught.value) == f"{path}:1: file is empty"


def test_binary_file_reports_line_of_first_nul(tmp_path: Path) -> None:
    path = tmp_path / "image.md"
    path.write_bytes(b"line one\nline two\nbad \x00 byte\n")
    with pytest.raises(IngestError) as caught:
        read_text(path, 1000)
    assert caught.value.line == 3
    assert "binary file" in caught.value.reason


def test_oversize_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("x" * 101)
    with pytest.raises(IngestError, match="101 bytes, over the 100-byte limit"):
        read_text(path, 100)
    assert read_text(path, 101).text == "x" * 101


def test_non_utf8_is_guessed_and_the_guess_reported(tmp_path: Path) -> None:
    path = tmp_path / "latin1.md"
    path.write_bytes("Title\n\nfine line\ncaf\u00e9 au lait\n".encode("latin-1"))
    decoded = read_text(path, 1000)
    assert decoded.text == "Title\n\nfine line\ncaf\u00e9 au lait\n"
    (warning,) = decoded.warnings
    assert warning.line == 4
    assert str(warning).startswith(f"{path}:4: warning: not UTF-8 (first odd byte 0xe9")


def test_bytes_no_encoding_explains_are_refused_with_line_and_byte() -> None:
    data = b"Title\n\n" + bytes([0x81, 0x8D, 0x8F, 0x90, 0x9D, 0xFF, 0xFE, 0xFD]) * 3
    with pytest.raises(IngestError) as caught:
        decode(Path("junk.txt"), data, 1000)
    assert caught.value.line == 3
    assert caught.value.reason == "not UTF-8: byte 0x81 at column 1"


def test_utf16_with_a_bom_is_read() -> None:
    text = "Title\r\n\r\nA \u201cUnicode text\u201d export from Word.\r\n"
    decoded = decode(Path("word.txt"), b"\xff\xfe" + text.encode("utf-16-le"), 1000)
    assert decoded.text == "Title\n\nA \u201cUnicode text\u201d export from Word.\n"
    assert decoded.warnings == ()


def test_decode_applies_the_same_checks_to_uploads() -> None:
    with pytest.raises(IngestError, match="over the 3-byte limit"):
        decode(Path("upload.txt"), b"abcd", 3)


def test_kind_of_known_and_unknown_suffixes() -> None:
    assert kind_of(Path("a.MD")) is Kind.MARKDOWN
    assert kind_of(Path("a.markdown")) is Kind.MARKDOWN
    assert kind_of(Path("a.htm")) is Kind.HTML
    assert kind_of(Path("a.txt")) is Kind.PLAINTEXT
    with pytest.raises(IngestError, match="unsupported file type"):
        kind_of(Path("a.docx"))


def test_discover_walks_folders_recursively_and_skips_hidden(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    for name in ("a/one.md", "a/b/two.html", "a/b/three.txt", "a/skip.pdf", ".git/x.md"):
        (tmp_path / name).write_text("x")
    found = discover([tmp_path, tmp_path / "a" / "one.md", tmp_path / "missing.md"])
    names = [path.relative_to(tmp_path).as_posix() for path in found.files]
    assert names == ["a/b/three.txt", "a/b/two.html", "a/one.md"]
    assert [str(e) for e in found.errors] == [
        f"{tmp_path / 'missing.md'}:1: no such file or folder"
    ]


def test_discover_reports_unsupported_file_named_directly(tmp_path: Path) -> None:
    path = tmp_path / "notes.docx"
    path.write_text("x")
    found = discover([path])
    assert found.files == []
    assert "unsupported file type" in found.errors[0].reason
