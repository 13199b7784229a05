"""Benchmark `dispatch subscribers import` on a generated CSV (default 1,000,000 rows).

    .venv/bin/python benchmarks/import_subscribers.py [--rows N] [--keep]

Generates email, name, city, plan rows (about 3% invalid, 2% repeats of an earlier
address) in a temporary folder, then runs the real CLI (`dispatch subscribers import`)
in a child process against a fresh SQLite store, and prints rows/s, wall time and peak
RSS of the importing process and of its address-checking worker (getrusage in the
child, so the generation does not count). Aim: < 60 s, < 200 MB.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dispatch.setup import default_config_text

CITIES = ["Leeds", "Lyon", "Porto", "Osaka", "Austin", "Tartu", "Accra", "Perth"]
PLANS = ["free", "supporter", "patron"]
INVALID = ["no-at-sign.example.com", "two@@example.com", "space in@example.com", "x@", ""]


def generate(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["email", "name", "city", "plan"])
        for i in range(rows):
            roll = rng.random()
            if roll < 0.03:
                email = rng.choice(INVALID)
            elif roll < 0.05 and i:
                email = f"reader{rng.randrange(i)}@Example.COM"  # a repeat, other spelling
            else:
                email = f"reader{i}@example.com"
            writer.writerow([email, f"Reader {i}", rng.choice(CITIES), rng.choice(PLANS)])


def write_config(folder: Path) -> Path:
    body = default_config_text()
    url = f"sqlite:///{folder / 'var' / 'dispatch.db'}"
    body = re.sub(r'(?m)^url = "sqlite:///var/dispatch.db".*$', f'url = "{url}"', body)
    path = folder / "config.toml"
    path.write_text(body, encoding="utf-8")
    return path


# Runs in the child: the CLI in-process, then its own and its workers' peak RSS (kB).
CHILD = """
import json, resource, sys
from dispatch.cli import app
try:
    app(sys.argv[2:], prog_name="dispatch")
except SystemExit as exit:
    status = exit.code
usage = {who: resource.getrusage(getattr(resource, who)).ru_maxrss
         for who in ("RUSAGE_SELF", "RUSAGE_CHILDREN")}
open(sys.argv[1], "w").write(json.dumps(usage))
sys.exit(status)
"""


def run_child(args: list[str], folder: Path) -> tuple[int, float, dict[str, float]]:
    """Exit status, wall seconds, and peak RSS in MB of the importer and its workers."""
    usage_path = folder / "rusage.json"
    with (folder / "import.log").open("wb") as out:
        started = time.perf_counter()
        command = [sys.executable, "-c", CHILD, str(usage_path), *args]
        status = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT).returncode
        wall = time.perf_counter() - started
    usage = json.loads(usage_path.read_text())
    return status, wall, {who: kb / 1024 for who, kb in usage.items()}  # kB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="dispatch-bench-"))
    csv_path = folder / "subscribers.csv"
    started = time.perf_counter()
    generate(csv_path, options.rows)
    print(f"generated {options.rows:,} rows in {time.perf_counter() - started:.1f} s: {csv_path}")
    config = ["--config", str(write_config(folder))]
    init = [sys.executable, "-m", "dispatch", *config, "init"]
    subprocess.run(init, check=True, stdout=subprocess.DEVNULL)
    args = [*config, "subscribers", "import", str(csv_path), "--list", "morning-briefing"]
    status, wall, rss = run_child(args, folder)
    log = (folder / "import.log").read_text().splitlines()
    print("\n".join(line for line in log if not line.startswith(str(csv_path))))
    print(f"exit status {status} (1: some rows rejected, as generated)")
    print(f"wall {wall:.1f} s, {options.rows / wall:,.0f} rows/s")
    print(f"peak RSS: importer {rss['RUSAGE_SELF']:.0f} MB, worker {rss['RUSAGE_CHILDREN']:.0f} MB")
    if not options.keep:
        for item in sorted(folder.rglob("*"), reverse=True):
            item.unlink() if item.is_file() else item.rmdir()
        folder.rmdir()


if __name__ == "__main__":
    main()
