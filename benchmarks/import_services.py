"""Benchmark `dispatch subscribers import --from mailchimp` on a generated Mailchimp
audience export (default 1,000,000 rows), next to the csv module reading the same file.

    .venv/bin/python benchmarks/import_services.py [--rows N] [--database-url URL]

The file has Mailchimp's columns ("Email Address", "First Name", "Last Name", merge
fields, MEMBER_RATING, OPTIN_TIME, CONFIRM_TIME, …, LEID, EUID, NOTES, TAGS) with
about 2 % invalid addresses and 1 % repeats. Each side runs in a child process of its
own; its peak RSS comes from getrusage in that child. Aim: < 60 s, < 200 MB per process.
With --database-url (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/bench) the store
is that database, emptied first (every table of it is dropped: use a scratch database).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from import_subscribers import write_config

HEADER = [
    "Email Address", "First Name", "Last Name", "Address", "Phone Number", "Company",
    "MEMBER_RATING", "OPTIN_TIME", "OPTIN_IP", "CONFIRM_TIME", "CONFIRM_IP", "LATITUDE",
    "LONGITUDE", "GMTOFF", "DSTOFF", "TIMEZONE", "CC", "REGION", "LAST_CHANGED", "LEID",
    "EUID", "NOTES", "TAGS",
]  # fmt: skip
FIRST = ["Ana", "Bo", "Chen", "Dara", "Émile", "Farah", "Gus", "Hana", "Inês", "Jon"]
TAGS = ['"Lisbon"', '"Readers 2019"', '"Lisbon","VIP"', ""]

# The csv module alone, reading the file as the importer does (bytes, line by line).
REFERENCE = """
import csv, io, json, resource, sys, time
started = time.perf_counter()
rows = 0
with open(sys.argv[2], "rb") as raw:
    for fields in csv.reader(io.TextIOWrapper(raw, "utf-8", newline="")):
        rows += 1
wall = time.perf_counter() - started
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
open(sys.argv[1], "w").write(json.dumps({"wall": wall, "rows": rows - 1, "rss_kb": rss}))
"""
# The real CLI, in-process, then its peak RSS.
IMPORT = """
import json, resource, sys, time
from dispatch.cli import app
started = time.perf_counter()
try:
    app(sys.argv[2:], prog_name="dispatch")
except SystemExit as exit:
    status = exit.code
wall = time.perf_counter() - started
usage = {who: resource.getrusage(getattr(resource, who)).ru_maxrss
         for who in ("RUSAGE_SELF", "RUSAGE_CHILDREN")}
open(sys.argv[1], "w").write(json.dumps({"wall": wall, "status": status, **usage}))
"""


def generate(path: Path, rows: int, seed: int = 14) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for i in range(rows):
            roll = rng.random()
            if roll < 0.02:
                email = f"reader{i} at example.com"
            elif roll < 0.03 and i:
                email = f"Reader{rng.randrange(i)}@Example.COM"
            else:
                email = f"reader{i}@{rng.choice(['example.com', 'mail.example.org', 'exämple.de'])}"
            stamp = (
                f"20{rng.randrange(15, 25)}-0{rng.randrange(1, 10)}-1{rng.randrange(10)} 10:54:27"
            )
            first = rng.choice(FIRST)
            writer.writerow([
                email, first, f"Reader {i}", "", "", "Example Ltd" if i % 7 == 0 else "",
                rng.randrange(1, 6), stamp, "203.0.113.7", stamp, "203.0.113.7", "41.15",
                "-8.61", "0", "0", "Europe/Lisbon", "PT", "13", stamp, 100000 + i,
                f"e{i:x}", "", rng.choice(TAGS),
            ])  # fmt: skip


def child(code: str, args: list[str], folder: Path, log: str) -> dict[str, float]:
    result = folder / "result.json"
    with (folder / log).open("wb") as out:
        subprocess.run([sys.executable, "-c", code, str(result), *args], stdout=out, stderr=out)
    return json.loads(result.read_text())


def empty_database(url: str) -> None:
    from sqlalchemy import MetaData, create_engine

    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    meta.drop_all(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="dispatch-bench-services-"))
    path = folder / "subscribed_members_export.csv"
    started = time.perf_counter()
    generate(path, options.rows)
    size = path.stat().st_size / 1e6
    print(
        f"generated {options.rows:,} rows ({size:.0f} MB) in {time.perf_counter() - started:.1f} s"
    )
    config = write_config(folder)
    if options.database_url:
        empty_database(options.database_url)
        text = config.read_text().replace(
            f'url = "sqlite:///{folder / "var" / "dispatch.db"}"', f'url = "{options.database_url}"'
        )
        config.write_text(text)
    init = [sys.executable, "-m", "dispatch", "--config", str(config), "init"]
    subprocess.run(init, check=True, stdout=subprocess.DEVNULL)

    reference = child(REFERENCE, [str(path)], folder, "reference.log")
    args = ["--config", str(config), "subscribers", "import", str(path)]
    args += ["--list", "morning-briefing", "--from", "mailchimp"]
    imported = child(IMPORT, args, folder, "import.log")
    log = (folder / "import.log").read_text().splitlines()
    print("\n".join(line for line in log if not line.startswith(str(path))))
    store = options.database_url.split(":", 1)[0] if options.database_url else "sqlite"
    rows = options.rows
    print(f"\n{'':34}{'wall':>9}{'rows/s':>12}{'peak RSS':>11}")
    print(
        f"{'csv module reading the file':34}{reference['wall']:8.1f}s"
        f"{rows / reference['wall']:12,.0f}{reference['rss_kb'] / 1024:9.0f} MB"
    )
    print(
        f"{'dispatch import --from mailchimp':34}{imported['wall']:8.1f}s"
        f"{rows / imported['wall']:12,.0f}{imported['RUSAGE_SELF'] / 1024:9.0f} MB"
        f"  ({store}; exit status {imported['status']}: 1 = rows rejected, as generated)"
    )
    if imported["RUSAGE_CHILDREN"] > 0:
        print(f"{'':34}reader process: {imported['RUSAGE_CHILDREN'] / 1024:.0f} MB")
    print(f"aim: < 60 s and < 200 MB per process; files in {folder}")


if __name__ == "__main__":
    main()
