"""A 100,000-recipient campaign over SMTP to an aiosmtpd server on loopback, against a
plain smtplib loop sending the same bytes over the same number of connections.

    .venv/bin/python benchmarks/campaign_smtp.py [--recipients N] [--concurrency C]
                                                [--pool-size P] [--batch-size B]

The server runs in its own process (its CPU does not share the sender's GIL); it counts
what it accepts and throws the data away. First the real campaign runner sends with the
`smtp` backend (`make_sender`); the server must have received every address exactly
once, each in a message that names it. Then the reference: every message pre-built with
`CampaignMessage.as_bytes` before timing, sent by `min(concurrency, pool_size)` threads
with one `smtplib` connection each; the server must have received the same bytes (but
for the MIME boundary). Aim: Dispatch / plain time <= 1.3x. The sender's and the
server's CPU seconds are printed too: on a busy machine they vary less than wall time.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import re
import smtplib
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from campaign_common import make_site, populate, prebuilt_messages, start

from dispatch.campaigns import CampaignRunner, RecipientLinks, RunOptions
from dispatch.delivery.factory import make_sender
from dispatch.delivery.smtp import SmtpSender
from dispatch.store.database import Database

BOUNDARY = re.compile(rb'boundary="([^"]+)"')


class CountingHandler:
    """aiosmtpd handler: counts recipients and messages; keeps no message data."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.recipients: Counter[str] = Counter()
        self.messages = 0
        self.bytes = 0
        self.impersonal = 0  # messages whose data does not contain their recipient
        self.contents: list[bytes] = []  # a digest of every message's data
        self.sessions: set[int] = set()
        self.cpu = time.process_time()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data: bytes = envelope.content
        self.messages += 1
        self.bytes += len(data)
        self.contents.append(hashlib.sha256(unbounded(data)).digest())
        self.sessions.add(id(session))
        for rcpt in envelope.rcpt_tos:
            self.recipients[rcpt] += 1
            if rcpt.encode() not in data:
                self.impersonal += 1
        return "250 2.0.0 Message accepted"

    def report(self) -> dict[str, Any]:
        counts = self.recipients
        return {
            "messages": self.messages,
            "bytes": self.bytes,
            "distinct": len(counts),
            "max_per_address": max(counts.values(), default=0),
            "digest": digest(counts),
            "content": hashlib.sha256(b"".join(sorted(self.contents))).hexdigest(),
            "impersonal": self.impersonal,
            "sessions": len(self.sessions),
            "cpu": time.process_time() - self.cpu,
        }


def unbounded(data: bytes) -> bytes:
    """`data` without its MIME boundary (a random one each time a message is thawed)."""
    found = BOUNDARY.search(data)
    return data.replace(found.group(1), b"") if found else data


def digest(addresses: Any) -> str:
    return hashlib.sha256("\n".join(sorted(addresses)).encode()).hexdigest()


def serve(pipe: Connection) -> None:
    """The server process: send back the port, then answer "report" / "stop"."""
    from aiosmtpd.controller import Controller

    handler = CountingHandler()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(handler, hostname="127.0.0.1", port=port, data_size_limit=10**7)
    controller.start()
    pipe.send(port)
    while (command := pipe.recv()) != "stop":
        assert command == "report", command
        pipe.send(handler.report())
        handler.reset()
    controller.stop()


def run_dispatch(settings: Any, db: Database, campaign_id: int, opened: list[int]) -> float:
    """Seconds for the runner to send the campaign over SMTP; notes connections opened."""
    sender = make_sender(settings)
    assert isinstance(sender, SmtpSender), sender
    runner = CampaignRunner(
        db,
        sender,
        RecipientLinks.from_settings(settings),
        RunOptions.from_settings(settings.delivery),
    )
    began = time.perf_counter()
    progress = runner.run(campaign_id)
    sender.close()
    seconds = time.perf_counter() - began
    assert progress.status == "sent" and progress.failed == 0, progress
    opened.append(sender.pool.opened)
    return seconds


def run_plain(port: int, mail_from: str, messages: list[tuple[str, bytes]], threads: int) -> float:
    """Seconds for `threads` smtplib connections to send `messages` (a share each)."""
    errors: list[BaseException] = []

    def work(share: list[tuple[str, bytes]]) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as connection:
                for recipient, data in share:
                    connection.sendmail(mail_from, [recipient], data)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(messages[i::threads],)) for i in range(threads)]
    began = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - began
    if errors:
        raise errors[0]
    return seconds


def check(report: dict[str, Any], expected: list[str], what: str) -> None:
    count = len(expected)
    problems = [
        f"{report['messages']:,} messages" if report["messages"] != count else "",
        f"{report['distinct']:,} distinct addresses" if report["distinct"] != count else "",
        f"an address {report['max_per_address']} times" if report["max_per_address"] > 1 else "",
        "not the campaign's addresses" if report["digest"] != digest(expected) else "",
        f"{report['impersonal']} messages without their address" if report["impersonal"] else "",
    ]
    found = [p for p in problems if p]
    if found:
        raise SystemExit(f"{what}: server received {', '.join(found)} (expected {count:,})")


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--pool-size", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=100)
    return parser.parse_args()


def main() -> None:
    args = options()
    context = multiprocessing.get_context("spawn")
    pipe, child_end = context.Pipe()
    server = context.Process(target=serve, args=(child_end,), daemon=True)
    server.start()
    port = pipe.recv()
    try:
        with tempfile.TemporaryDirectory() as folder:
            compare(args, port, pipe, Path(folder))
    finally:
        pipe.send("stop")
        server.join(10)


def measured(pipe: Connection, send: Callable[[], float]) -> tuple[float, float, dict[str, Any]]:
    """(seconds, this process's CPU seconds, the server's report) of one timed send."""
    pipe.send("report")  # zero the server's counters
    pipe.recv()
    cpu = time.process_time()
    seconds = send()
    cpu = time.process_time() - cpu
    pipe.send("report")
    return seconds, cpu, pipe.recv()


def compare(args: argparse.Namespace, port: int, pipe: Connection, folder: Path) -> None:
    settings = make_site(
        folder,
        {
            r'^backend = "outbox".*$': 'backend = "smtp"',
            r"^port = 25\b.*$": f"port = {port}",
            r'^security = "starttls".*$': 'security = "none"',
            r"^concurrency = .*$": f"concurrency = {args.concurrency}",
            r"^pool_size = .*$": f"pool_size = {args.pool_size}",
            r"^batch_size = .*$": f"batch_size = {args.batch_size}",
        },
    )
    populate(settings, args.recipients)
    expected = [f"reader{i}@example.com" for i in range(args.recipients)]
    db = Database(settings.database)
    began = time.perf_counter()
    campaign_id = start(settings, db)
    frozen = time.perf_counter() - began
    opened: list[int] = []
    ours = measured(pipe, lambda: run_dispatch(settings, db, campaign_id, opened))
    check(ours[2], expected, "Dispatch")

    mail_from, messages = prebuilt_messages(settings, db, campaign_id)
    db.dispose()
    threads = min(args.concurrency, args.pool_size)
    plain = measured(pipe, lambda: run_plain(port, mail_from, messages, threads))
    check(plain[2], expected, "plain smtplib")
    if plain[2]["content"] != ours[2]["content"]:
        raise SystemExit("the plain loop did not send the same bytes as Dispatch")

    n = args.recipients
    size = plain[2]["bytes"] / n
    print(f"recipients       {n:,} ({size / 1024:.1f} KiB a message)")
    print(
        f"connections      {threads} (Dispatch opened {opened[0]}, the server saw "
        f"{ours[2]['sessions']}), batch size {args.batch_size}"
    )
    print(f"freeze           {frozen:.2f} s")
    for name, (seconds, cpu, report) in (("Dispatch", ours), ("plain smtplib", plain)):
        print(
            f"{name:<16} {seconds:7.2f} s  ({n / seconds:,.0f} msgs/s)  "
            f"CPU: sender {cpu:.1f} s, server {report['cpu']:.1f} s"
        )
    print(f"Dispatch / plain {ours[0] / plain[0]:.2f}x (aim <= 1.3x)")
    print("server check     every address once, in its own message; the same bytes in both")


if __name__ == "__main__":
    main()
