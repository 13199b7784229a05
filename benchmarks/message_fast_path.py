"""Benchmark the message fast path against one `EmailMessage` per recipient.

    .venv/bin/python benchmarks/message_fast_path.py [--messages N] [--naive N]

Compiles a 20-article digest once (as `email_fill.py` does), builds N (default 20,000)
complete personalised messages with `CampaignMessage.as_bytes` (the precomputed wire
template) on one core, then builds messages for the same recipients naively: an
`email.message.EmailMessage` per recipient through `mime.build_message`
(`CampaignMessage.as_email_message`). The naive build manages about a hundred
messages a second, so it runs on an evenly spread sample (--naive, default 1,000)
to keep the benchmark under a minute. A sample of both is parsed back
(`email.parser`, `policy.default`) and must give the same headers (the MIME boundary
aside) and the same decoded text/plain and text/html parts. Prints messages/s of
each and the ratio. Aims: ≥ 10,000 messages/s, at least 10 times the naive build.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path

from email_fill import ISSUE, LIST, benchmark_settings, best_of, digest, recipients

from dispatch.delivery.base import Envelope
from dispatch.delivery.message import CampaignMessage, ListIdentity, message_id
from dispatch.delivery.mime import Mailbox


def campaign(folder: Path, count: int) -> tuple[CampaignMessage, list[Envelope]]:
    settings = benchmark_settings(folder)
    item = settings.list(LIST)
    message = CampaignMessage(
        digest(settings),
        Mailbox(item.from_email, item.from_name),
        ListIdentity(item.slug, item.name, str(settings.site.base_url), "leave@dispatch.example"),
        ISSUE,
        reply_to=item.reply_to,
    )
    envelopes = [
        Envelope(number + 1, 1, person, message_id("2026-07-04", number + 1, "dispatch.example"))
        for number, person in enumerate(recipients(settings, count))
    ]
    return message, envelopes


def view(raw: bytes) -> tuple[object, ...]:
    """Headers (the boundary aside), structure and decoded parts, as a reader sees them."""
    parsed: EmailMessage = BytesParser(policy=default).parsebytes(raw)  # type: ignore[assignment]
    headers = sorted((k, str(v)) for k, v in parsed.items() if k != "Content-Type")
    parts = [(p.get_content_type(), p.get_content()) for p in parsed.iter_parts()]
    return parsed.get_content_type(), headers, parts


def check(message: CampaignMessage, sample: list[Envelope]) -> None:
    for envelope in sample:
        fast = message.as_bytes(envelope)
        naive = message.as_email_message(envelope).as_bytes()
        if view(fast) != view(naive):
            raise SystemExit(f"delivery {envelope.delivery_id}: fast and naive messages differ")
        if max(len(line) for line in fast.split(b"\r\n")) > 998:
            raise SystemExit(f"delivery {envelope.delivery_id}: a line exceeds 998 bytes")
        if [t for t, _ in view(fast)[2]] != ["text/plain", "text/html"]:  # type: ignore[misc]
            raise SystemExit(f"delivery {envelope.delivery_id}: wrong part order")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--naive", type=int, default=1_000, help="naive builds to time")
    parser.add_argument("--check", type=int, default=200, help="messages parsed and compared")
    parser.add_argument("--rounds", type=int, default=3, help="fast passes; the best counts")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        message, envelopes = campaign(Path(folder), args.messages)
    step = max(1, len(envelopes) // max(1, args.naive))
    naive_sample = envelopes[::step][: args.naive]
    check(message, envelopes[:: max(1, len(envelopes) // max(1, args.check))][: args.check])
    sizes: list[int] = []

    def fast_all() -> None:
        sizes.clear()
        build = message.as_bytes
        sizes.extend(len(build(envelope)) for envelope in envelopes)

    def naive_all() -> None:
        for envelope in naive_sample:
            message.as_email_message(envelope).as_bytes()

    fast_cpu, fast_wall = best_of(args.rounds, fast_all)
    naive_cpu, naive_wall = best_of(1, naive_all)
    fast_rate, naive_rate = len(envelopes) / fast_cpu, len(naive_sample) / naive_cpu
    print(f"digest of 20 articles; messages average {sum(sizes) / len(sizes):,.0f} bytes")
    print(f"checked: {args.check} messages parse to the same headers and parts both ways")
    print(
        f"fast:  {len(envelopes):,} messages in {fast_cpu:.2f} s CPU ({fast_wall:.2f} s wall)"
        f" = {fast_rate:,.0f} messages/s on one core"
    )
    print(
        f"naive: {len(naive_sample):,} messages in {naive_cpu:.2f} s CPU ({naive_wall:.2f} s "
        f"wall) = {naive_rate:,.0f} messages/s"
    )
    ratio = fast_rate / naive_rate
    print(f"ratio: {ratio:,.0f} times faster (aims: ≥ 10,000 messages/s, ≥ 10 times: ", end="")
    print("met)" if fast_rate >= 10_000 and ratio >= 10 else "NOT met)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
