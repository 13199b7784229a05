"""Which encoding and delimiter a CSV file uses, judged from its first 64 KB.

Exports come from Excel (UTF-8 with a BOM, or UTF-16 "Unicode text" with tabs),
European spreadsheets (semicolons, Windows-1252) and services (plain UTF-8, commas).
- Encoding: a byte-order mark decides; else a sample that is UTF-8 (or holds any valid
  multi-byte UTF-8 sequence, so that one stray Latin-1 byte is reported on its own line
  rather than re-reading the whole file) is UTF-8; else charset-normalizer's guess.
- Delimiter: `csv.Sniffer` over the sample's first lines, among `,` `;` and TAB; when it
  cannot tell, the one of those that the header line holds most (comma on a tie).
"""

from __future__ import annotations

import codecs
import csv
import re
from dataclasses import dataclass
from pathlib import Path

from charset_normalizer import from_bytes

SAMPLE_BYTES = 65_536
DELIMITERS = ",;\t"
WIDE = ("utf_16", "utf_32")  # encodings whose lines cannot be split on the byte b"\n"
_MULTIBYTE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class CsvFormat:
    encoding: str  # a Python codec name
    delimiter: str

    @property
    def wide(self) -> bool:
        return codecs.lookup(self.encoding).name.replace("-", "_").startswith(WIDE)

    def describe(self) -> str:
        names = {",": "comma", ";": "semicolon", "\t": "tab"}
        return f"{codecs.lookup(self.encoding).name}, {names.get(self.delimiter, self.delimiter)}"


def sniff(path: Path) -> CsvFormat:
    with path.open("rb") as stream:
        sample = stream.read(SAMPLE_BYTES)
    encoding = sniff_encoding(sample)
    text = sample.decode(encoding, errors="replace")
    return CsvFormat(encoding, sniff_delimiter(text))


def sniff_encoding(sample: bytes) -> str:
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name
    if _is_utf8(sample) or _MULTIBYTE.search(sample):
        return "utf-8"
    best = from_bytes(sample).best()
    return best.encoding if best is not None else "utf-8"


def _is_utf8(sample: bytes) -> bool:
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a sample cut inside a character is still UTF-8
        return exc.start >= len(sample) - 3 and exc.reason == "unexpected end of data"
    return True


def sniff_delimiter(text: str) -> str:
    lines = text.lstrip("\ufeff").splitlines()[:50]
    if len(lines) > 1 and len(text) >= SAMPLE_BYTES // 2:
        lines = lines[:-1]  # the last line of a cut sample may be cut too
    try:
        found = csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        found = ""
    header = lines[0] if lines else ""
    counts = {d: header.count(d) for d in DELIMITERS}
    if found and counts[found] >= max(counts.values()) and counts[found]:
        return found
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","
