"""A real DNS server for tests: Debian's dnsmasq in the foreground on a free loopback
port, answering only the records given (`--txt-record`, `--mx-host`, `--host-record`)
and NXDOMAIN for anything else under the given domains; stopped by its PID.

`with Dnsmasq(domains, txt={name: text}, mx={name: host}, hosts={name: ip}) as dns:`
→ `dns.port`. Fails (never skips) without dnsmasq: `.ci/run` installs `dnsmasq-base`."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

import dns.exception
import dns.resolver

from support.live_server import free_port
from support.processes import stop

DNSMASQ = os.environ.get("DISPATCH_DNSMASQ", "/usr/sbin/dnsmasq")


def txt_strings(text: str) -> str:
    """A TXT value as dnsmasq takes it on its command line: strings of at most 255
    characters separated by commas (a value must not hold a comma itself)."""
    if "," in text:
        raise ValueError(f"dnsmasq splits TXT values at commas: {text!r}")
    return ",".join(text[i : i + 255] for i in range(0, len(text), 255))


class Dnsmasq:
    def __init__(
        self,
        domains: list[str],
        txt: dict[str, list[str]] | None = None,
        mx: dict[str, str] | None = None,
        hosts: dict[str, str] | None = None,
    ) -> None:
        if not Path(DNSMASQ).exists():
            raise RuntimeError(f"{DNSMASQ} not found: install dnsmasq-base (apt-get)")
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="dispatch-dnsmasq-"))
        self.args = [
            DNSMASQ,
            "--no-daemon",
            f"--port={self.port}",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            "--conf-file=/dev/null",
            f"--pid-file={self.folder / 'dnsmasq.pid'}",
            *[f"--local=/{domain}/" for domain in domains],
            *[
                f"--txt-record={n},{txt_strings(t)}"
                for n, texts in (txt or {}).items()
                for t in texts
            ],
            *[f"--mx-host={name},{host},10" for name, host in (mx or {}).items()],
            *[f"--host-record={name},{ip}" for name, ip in (hosts or {}).items()],
        ]
        self.process: subprocess.Popen[bytes] | None = None
        self.probe = domains[0]

    def __enter__(self) -> Dnsmasq:
        self.process = subprocess.Popen(
            self.args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers, resolver.port, resolver.lifetime = ["127.0.0.1"], self.port, 1
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"dnsmasq exited: {error}")
            try:
                resolver.resolve(self.probe, "SOA", search=False)
                return self
            except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
                return self  # it answers
            except dns.exception.DNSException:
                time.sleep(0.1)
        raise RuntimeError(f"dnsmasq did not answer on port {self.port}")

    def __exit__(self, *exc: object) -> None:
        stop(self.process, timeout=10)

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"
