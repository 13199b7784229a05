from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

from typer.testing import Result

from dispatch.store.database import Database
from test_subscribers_import import BAD_ROWS, LIST, copy, people, write


def test_import_prints_each_reject_with_its_line_and_a_summary(
    cli: Callable[..., Result], db: Database, tmp_path: Path
) -> None:
    path = copy("bad-rows.csv", tmp_path)
    result = cli("subscribers", "import", str(path), "--list", LIST)
    assert result.exit_code == 1, result.output
    for line, reason in BAD_ROWS:
        assert f"{path}:{line}: {reason}" in result.output
    assert "rows read: 8" in result.output
    assert "subscribers created: 2, updated: 0" in result.output
    assert f"subscribed to {LIST}: 2 (pending)" in result.output
    assert "skipped: 0 suppressed, 0 unsubscribed" in result.output
    assert f"rejected: 6 (written to {tmp_path / 'bad-rows.rejects.csv'})" in result.output


def test_clean_import_exits_0_and_a_confirmed_reimport_upgrades(
    cli: Callable[..., Result], db: Database, tmp_path: Path
) -> None:
    path = copy("people.csv", tmp_path)
    assert cli("subscribers", "import", str(path), "--list", LIST).exit_code == 0
    result = cli("subscribers", "import", str(path), "--list", LIST, "--confirmed")
    assert result.exit_code == 0, result.output
    assert "pending confirmed: 3" in result.output
    assert "already subscribed: 2" in result.output
    assert {p["status"].value for p in people(db).values()} == {"confirmed"}


def test_import_errors_exit_2_with_one_line(
    cli: Callable[..., Result], db: Database, tmp_path: Path
) -> None:
    path = write(tmp_path, "name\nAnn\n")
    result = cli("subscribers", "import", str(path), "--list", LIST)
    assert result.exit_code == 2
    assert f'error: {path}:1: bad header: no "email" column (found: name)' in result.output
    result = cli("subscribers", "import", str(copy("people.csv", tmp_path)), "--list", "nope")
    assert result.exit_code == 2 and 'no list "nope"' in result.output


def test_rejects_option(cli: Callable[..., Result], db: Database, tmp_path: Path) -> None:
    target = tmp_path / "why.csv"
    path = copy("bad-rows.csv", tmp_path)
    cli("subscribers", "import", str(path), "--list", LIST, "--rejects", str(target))
    assert target.read_bytes().startswith(b"line,reason,email,name,city\r\n3,")
    assert not (tmp_path / "bad-rows.rejects.csv").exists()


def test_export_to_stdout_and_file(
    cli: Callable[..., Result], db: Database, tmp_path: Path
) -> None:
    cli("subscribers", "import", str(copy("people.csv", tmp_path)), "--list", LIST)
    result = cli("subscribers", "export", "--list", LIST)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["email"] for row in rows] == [
        "ann@example.com",
        "bob@example.org",
        "carol@example.net",
    ]
    out = tmp_path / "out.csv"
    result = cli(
        "subscribers", "export", "--list", LIST, "--out", str(out), "--status", "confirmed"
    )
    assert result.exit_code == 0, result.output
    assert out.read_text() == "email,name,status,subscribed_at\n"
    bad = cli("subscribers", "export", "--list", LIST, "--status", "maybe")
    assert bad.exit_code == 2 and "--status" in bad.output


def test_add_suppress_delete(cli: Callable[..., Result], db: Database) -> None:
    added = cli("subscribers", "add", "Ann@Example.com", "--list", LIST, "--name", "Ann")
    assert added.exit_code == 0 and "ann@example.com: subscribed" in added.output
    again = cli("subscribers", "add", "Ann@example.com", "--list", LIST, "--confirmed")
    assert "subscription confirmed" in again.output
    assert cli("subscribers", "suppress", "zed@example.com").output.strip().endswith("suppressed")
    refused = cli("subscribers", "add", "zed@example.com", "--list", LIST)
    assert refused.exit_code == 1 and "the address is suppressed" in refused.output
    invalid = cli("subscribers", "add", "not-an-address", "--list", LIST)
    assert invalid.exit_code == 2 and '"not-an-address" is not a usable email' in invalid.output

    kept = cli("subscribers", "delete", "Ann@example.com", input="n\n")
    assert kept.exit_code == 1 and "ann@example.com" in people(db)
    erased = cli("subscribers", "delete", "Ann@example.com", "--yes")
    assert erased.exit_code == 0, erased.output
    assert "erased ann@example.com: 1 subscriber, 1 subscriptions, 0 suppressions" in erased.output
    assert people(db) == {}
    missing = cli("subscribers", "delete", "Ann@example.com", "--yes")
    assert missing.exit_code == 2 and "no subscriber or suppression" in missing.output
