"""DKIM at line rate.

    .venv/bin/python benchmarks/dkim_signing.py [--messages N] [--dkimpy M]
                                                [--recipients R] [--concurrency C]

1. Signatures per second per core (process CPU time, one thread) on the same personalised
   campaign messages: Dispatch's signer (canonicalisation of its own, the RSA and
   Ed25519 operations by `cryptography`) against dkimpy's `dkim.sign`, side by side;
   then every signature Dispatch made is verified with dkimpy.
2. A campaign of R recipients through the real runner and SMTP sender to Postfix's
   `smtp-sink` (started here as a child process, stopped by its PID): unsigned, then
   DKIM-signed (RSA-SHA256, and RSA + Ed25519). Aim: signed rate >= 0.8x unsigned.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

sys.path.insert(0, str(Path(__file__).parent))

from campaign_common import make_site, populate, prebuilt_messages, start

from dispatch.campaigns import CampaignRunner, RecipientLinks, RunOptions
from dispatch.config import Settings
from dispatch.delivery.dkim import SIGNED_HEADERS, DkimSigner
from dispatch.delivery.factory import make_sender
from dispatch.store.database import Database

SMTP_SINK = "/usr/sbin/smtp-sink"
DOMAIN = "dispatch.example"


def pem(key: object, legacy: bool = False) -> bytes:
    form = (
        serialization.PrivateFormat.TraditionalOpenSSL
        if legacy
        else serialization.PrivateFormat.PKCS8
    )
    return key.private_bytes(serialization.Encoding.PEM, form, serialization.NoEncryption())  # type: ignore[attr-defined]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def per_core(work: list[bytes], sign: object) -> tuple[float, list[bytes]]:
    started = time.process_time()
    signed = [sign(message) for message in work]  # type: ignore[operator]
    return len(work) / (time.process_time() - started), signed


def verify_all(signed: list[bytes], records: dict[str, bytes]) -> int:
    def lookup(name: bytes | str, timeout: float = 5) -> bytes | None:
        asked = (name.decode() if isinstance(name, bytes) else name).rstrip(".")
        return records.get(asked)

    good = 0
    for message in signed:
        checker = dkim.DKIM(message)
        count = message.count(b"DKIM-Signature:")
        good += all(checker.verify(idx=i, dnsfunc=lookup) for i in range(count))
    return good


def signing_rates(messages: list[bytes], dkimpy_count: int, rsa_pem: bytes, ed_pem: bytes) -> None:
    ours = DkimSigner(DOMAIN, "dispatch", rsa_pem)
    dual = DkimSigner(DOMAIN, "dispatch", rsa_pem, ed25519=("dispatch-ed25519", ed_pem))
    records = {
        name: selector.key.dns_record().encode()
        for name, selector in zip(dual.dns_names(), dual.selectors, strict=True)
    }
    legacy = pem(serialization.load_pem_private_key(rsa_pem, None), legacy=True)
    sample = messages[:dkimpy_count]

    def with_dkimpy(message: bytes) -> bytes:
        return (
            dkim.sign(
                message,
                b"dispatch",
                DOMAIN.encode(),
                legacy,
                canonicalize=(b"relaxed", b"relaxed"),
                include_headers=list(SIGNED_HEADERS),
            )
            + message
        )

    theirs_rate, theirs = per_core(sample, with_dkimpy)
    ours_rate, signed = per_core(messages, ours.sign)
    dual_rate, dual_signed = per_core(messages, dual.sign)
    size = sum(map(len, messages)) // len(messages)
    print(f"\nSignatures per second per core ({len(messages):,} messages of {size:,} bytes,")
    print("RSA 2048; process CPU time, one thread):")
    rows = [
        ("dkimpy dkim.sign (rsa-sha256)", theirs_rate, f"({len(sample):,} messages)"),
        ("Dispatch (rsa-sha256)", ours_rate, f"{ours_rate / theirs_rate:,.1f}x dkimpy"),
        ("Dispatch (rsa-sha256 + ed25519-sha256)", dual_rate, f"{dual_rate / theirs_rate:,.1f}x"),
    ]
    for name, rate, note in rows:
        print(f"  {name:<40} {rate:>9,.0f}/s  {note}")
    good = verify_all(signed + dual_signed, records)
    total = len(signed) + len(dual_signed)
    print(f"  verified with dkimpy: {good:,} of {total:,} Dispatch-signed messages")
    assert verify_all(theirs[:20], records) == min(20, len(theirs))
    if good != total:
        raise SystemExit("some signatures did not verify")


def campaign_rate(settings: Settings, db: Database, recipients: int) -> tuple[float, float]:
    campaign_id = start(settings, db)
    sender = make_sender(settings)
    runner = CampaignRunner(
        db,
        sender,
        RecipientLinks.from_settings(settings),
        RunOptions.from_settings(settings.delivery),
    )
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        progress = runner.run(campaign_id)
    finally:
        sender.close()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if progress.sent != recipients:
        raise SystemExit(
            f"campaign {campaign_id}: sent {progress.sent} of {recipients}: {progress}"
        )
    return recipients / wall, cpu


def smtp_sink(port: int) -> subprocess.Popen[bytes]:
    command = [SMTP_SINK, "-c", f"127.0.0.1:{port}", "256"]
    if os.getuid() == 0:
        command[1:1] = ["-u", "nobody"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.05)
    os.kill(process.pid, signal.SIGTERM)
    raise SystemExit(f"smtp-sink did not listen on {port}")


def campaigns(folder: Path, args: argparse.Namespace, rsa_file: Path, ed_file: Path) -> None:
    port = free_port()
    common = {
        r'^backend = "outbox".*$': 'backend = "smtp"',
        r"^port = 25$": f"port = {port}",
        r'^security = "starttls".*$': 'security = "none"',
        r"^concurrency = 2 .*$": f"concurrency = {args.concurrency}",
        r"^pool_size = 2 .*$": f"pool_size = {args.concurrency}",
        r"^batch_size = 100 .*$": "batch_size = 500",
        r'^# domain = "bounces.dispatch.example".*$': 'domain = "bounces.dispatch.example"',
    }
    signed = {
        r'^# domain = "dispatch.example".*$': f'domain = "{DOMAIN}"',
        r"^# private_key_file = .*$": f'private_key_file = "{rsa_file}"',
    }
    dual = signed | {
        r"^# ed25519_private_key_file = .*$": f'ed25519_private_key_file = "{ed_file}"'
    }
    pooled = {r"^processes = 0 .*$": f"processes = {args.processes}"}
    plans = {
        "unsigned": {},
        "rsa, threads": signed,
        f"rsa, {args.processes} processes": signed | pooled,
        f"rsa+ed25519, {args.processes} proc": dual | pooled,
    }
    runs = {}
    sink = smtp_sink(port)
    try:
        for number, (name, extra) in enumerate(plans.items()):
            site = folder / f"campaign-{number}"
            site.mkdir()
            settings = make_site(site, common | extra)
            populate(settings, args.recipients)
            db = Database(settings.database)
            runs[name] = campaign_rate(settings, db, args.recipients)
            db.dispose()
    finally:
        os.kill(sink.pid, signal.SIGTERM)
        sink.wait(timeout=10)
    base = runs["unsigned"][0]
    print(f"\nCampaign of {args.recipients:,} to smtp-sink ({args.concurrency} connections):")
    for name, (rate, cpu) in runs.items():
        print(f"  {name:<26} {rate:>8,.0f} msgs/s  {cpu:6.1f} s CPU  {rate / base:5.2f}x unsigned")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000, help="messages signed by Dispatch")
    parser.add_argument("--dkimpy", type=int, default=200, help="messages signed by dkimpy")
    parser.add_argument("--recipients", type=int, default=20_000, help="campaign size")
    parser.add_argument("--concurrency", type=int, default=4, help="SMTP connections")
    parser.add_argument("--processes", type=int, default=2, help="signing processes")
    args = parser.parse_args()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    with tempfile.TemporaryDirectory(prefix="dkim-bench-") as name:
        folder = Path(name)
        rsa_file, ed_file = folder / "rsa.pem", folder / "ed.pem"
        rsa_file.write_bytes(pem(rsa_key))
        ed_file.write_bytes(pem(ed_key))
        sample = folder / "sample"
        sample.mkdir()
        settings = make_site(sample)
        populate(settings, args.messages)
        db = Database(settings.database)
        _, built = prebuilt_messages(settings, db, start(settings, db))
        db.dispose()
        signing_rates([data for _, data in built], args.dkimpy, pem(rsa_key), pem(ed_key))
        campaigns(folder, args, rsa_file, ed_file)


if __name__ == "__main__":
    main()
