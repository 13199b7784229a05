"""`dispatch send` over SMTP against a plain smtplib loop, both into Postfix's smtp-sink.

    .venv/bin/python benchmarks/campaign_smtp.py [--sizes 10000,100000] [--concurrency C]

smtp-sink (Debian package `postfix`; only its `smtp-sink` program runs, started here and
stopped by PID) is a C sink that takes SMTP as fast as the loopback carries it, so it is
not the bottleneck the way a Python server would be. For each size:

- Dispatch: a site with that many confirmed subscribers and a 26 KB article; the wall
  time of `dispatch send article … --yes` as a child process, start-up included, with
  its peak RSS (`wait4`). The ledger must say every recipient was sent, and the sink's
  message counter must have grown by exactly that many.
- Reference: the same messages, built beforehand with the campaign's own
  `CampaignMessage.as_bytes` (the bytes Dispatch sent), handed to smtp-sink by one
  `smtplib` connection in a loop.

It prints the messages per second of both and their ratio (Dispatch / plain, start-up
included; the aim is at least 0.8x), and the CPU seconds each used.
"""

from __future__ import annotations

import argparse
import os
import pty
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from campaign_common import LIST, make_site, populate, prebuilt_messages

from dispatch.campaigns.progress import Progress
from dispatch.store.database import Database
from dispatch.store.models import Campaign
from dispatch.store.types import utcnow

SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
COUNTER = re.compile(rb"mesg=(\d+)")
ARTICLE_BYTES = 10_000  # about 26 KB a message, HTML and text parts together


@dataclass
class Run:
    seconds: float
    cpu: float
    rss_mb: float = 0.0

    def rate(self, messages: int) -> float:
        return messages / self.seconds


class Sink:
    """smtp-sink on a free loopback port; `messages()` reads its running counter (written to
    a terminal, which it does not buffer; a thread keeps the last value)."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        self._terminal, child_end = pty.openpty()
        self.process = subprocess.Popen(
            [SINK, *user, "-c", f"127.0.0.1:{self.port}", "256"],
            stdout=child_end,
            stderr=child_end,
        )
        os.close(child_end)
        self.count = 0
        threading.Thread(target=self._read, daemon=True).start()
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit(f"smtp-sink did not start on port {self.port}")

    def _read(self) -> None:
        tail = b""
        while True:
            try:
                chunk = os.read(self._terminal, 65536)
            except OSError:  # the sink is gone
                return
            if not chunk:
                return
            tail = (tail + chunk)[-200:]
            found = COUNTER.findall(tail)
            if found:
                self.count = int(found[-1])

    def messages(self) -> int:
        time.sleep(0.3)  # the counter is written as each message ends
        return self.count

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        os.close(self._terminal)


def dispatch_send(config: Path) -> Run:
    """`dispatch send` as a user runs it: a child process, start-up included."""
    command = [
        sys.executable,
        "-m",
        "dispatch",
        "--config",
        str(config),
        "send",
        "article",
        "benchmark-story",
        "--list",
        LIST,
        "--yes",
    ]
    began = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - began
    output = child.stdout.read().decode() if child.stdout else ""
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"dispatch send failed:\n{output}")
    return Run(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def plain_loop(port: int, mail_from: str, messages: list[tuple[str, bytes]]) -> Run:
    cpu, began = time.process_time(), time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as connection:
        for recipient, data in messages:
            connection.sendmail(mail_from, [recipient], data)
    return Run(time.perf_counter() - began, time.process_time() - cpu)


def site(folder: Path, port: int, recipients: int, concurrency: int) -> Path:
    settings = make_site(
        folder,
        {
            r'^backend = "outbox".*$': 'backend = "smtp"',
            r"^port = 25\b.*$": f"port = {port}",
            r'^security = "starttls".*$': 'security = "none"',
            r"^concurrency = .*$": f"concurrency = {concurrency}",
            r"^pool_size = .*$": f"pool_size = {concurrency}",
        },
    )
    populate(settings, recipients, body_bytes=ARTICLE_BYTES)
    return settings.path


def measure(recipients: int, concurrency: int, sink: Sink, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    config_path = site(folder, sink.port, recipients, concurrency)
    from dispatch import config

    settings = config.load(config_path)
    before = sink.messages()
    ours = dispatch_send(config_path)
    received = sink.messages() - before
    db = Database(settings.database)
    with db.session() as session:
        campaign = session.get(Campaign, 1)
        assert campaign is not None
        progress = Progress.read(session, campaign, utcnow())
    if progress.status != "sent" or progress.sent != recipients or received != recipients:
        raise SystemExit(f"Dispatch: ledger {progress}, the sink counted {received:,}")
    mail_from, messages = prebuilt_messages(settings, db, 1)
    db.dispose()
    size = sum(len(data) for _, data in messages) / len(messages)
    before = sink.messages()
    plain = plain_loop(sink.port, mail_from, messages)
    if sink.messages() - before != recipients:
        raise SystemExit("plain loop: the sink did not count every message")
    ratio = ours.rate(recipients) / plain.rate(recipients)
    print(
        f"\n{recipients:,} recipients, {size / 1024:.1f} KiB a message, "
        f"Dispatch with {concurrency} connections"
    )
    print(
        f"  dispatch send   {ours.seconds:7.2f} s  {ours.rate(recipients):8,.0f} msgs/s  "
        f"CPU {ours.cpu:6.1f} s  peak RSS {ours.rss_mb:,.0f} MB  (start-up included)"
    )
    print(
        f"  plain smtplib   {plain.seconds:7.2f} s  {plain.rate(recipients):8,.0f} msgs/s  "
        f"CPU {plain.cpu:6.1f} s  (messages built beforehand, one connection)"
    )
    print(f"  ratio           {ratio:.2f}x the plain loop's rate (aim >= 0.8x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    if not Path(SINK).exists():
        raise SystemExit("smtp-sink not found: apt-get install postfix (the service stays off)")
    with tempfile.TemporaryDirectory() as folder:
        sink = Sink()
        try:
            for size in (int(s) for s in args.sizes.split(",")):
                measure(size, args.concurrency, sink, Path(folder) / str(size))
        finally:
            sink.stop()


if __name__ == "__main__":
    main()
