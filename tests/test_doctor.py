"""`dispatch doctor` against a real DNS server on loopback (Debian's dnsmasq) answering
good and broken records."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from typer.testing import CliRunner, Result

from conftest import write_config
from dispatch.cli import app
from dispatch.delivery.dkim_keys import load_key
from support.dnsmasq import Dnsmasq
from support.live_server import free_port

DOMAIN = "dispatch.example"
STRONG = "k" * 48


def pem(key: object) -> bytes:
    return key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.fixture(scope="module")
def keys() -> tuple[bytes, bytes]:
    return (
        pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        pem(ed25519.Ed25519PrivateKey.generate()),
    )


def configure(tmp_path: Path, keys: tuple[bytes, bytes], nameserver: str, **changes: str) -> Path:
    (tmp_path / "rsa.pem").write_bytes(keys[0])
    (tmp_path / "ed.pem").write_bytes(keys[1])
    lines = {
        r"^base_url = .*$": 'base_url = "https://news.dispatch.example"',
        r"^postal_address = .*$": 'postal_address = "The Dispatch, 4 Quay Street, Bristol BS1 4DB"',
        r'^# domain = "dispatch.example".*$': f'domain = "{DOMAIN}"',
        r"^# private_key_file = .*$": f'private_key_file = "{tmp_path / "rsa.pem"}"',
        r"^# ed25519_private_key_file = .*$": f'ed25519_private_key_file = "{tmp_path / "ed.pem"}"',
        r'^# domain = "bounces.dispatch.example".*$': 'domain = "bounces.dispatch.example"',
        r"^# nameserver = .*$": f'nameserver = "{nameserver}"',
        r"^timeout = 5 .*$": "timeout = 2",
        r"^sending_ips = \[\].*$": 'sending_ips = ["192.0.2.10", "2001:db8::25"]',
    }
    for pattern, line in changes.items():
        lines[pattern] = line
    return write_config(tmp_path, f"sqlite:///{tmp_path / 'd.db'}", lines)


def records(keys: tuple[bytes, bytes]) -> dict[str, list[str]]:
    rsa_record = load_key(keys[0], "rsa").dns_record()
    ed_record = load_key(keys[1], "ed25519").dns_record()
    return {
        f"dispatch._domainkey.{DOMAIN}": [rsa_record],
        f"dispatch-ed25519._domainkey.{DOMAIN}": [ed_record],
        f"bounces.{DOMAIN}": ["v=spf1 include:_spf.dispatch.example ip6:2001:db8::/32 -all"],
        f"_spf.{DOMAIN}": ["v=spf1 a:mta.dispatch.example mx -all"],
        f"_dmarc.{DOMAIN}": ["v=DMARC1; p=quarantine; rua=mailto:dmarc@dispatch.example"],
        DOMAIN: ["google-site-verification=abc"],
    }


def doctor(path: Path, monkeypatch: pytest.MonkeyPatch, secret: str = STRONG) -> Result:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", secret)
    return CliRunner().invoke(app, ["--config", str(path), "doctor"])


def test_a_good_setup_passes(
    tmp_path: Path, keys: tuple[bytes, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    with Dnsmasq(
        [DOMAIN],
        txt=records(keys),
        mx={f"bounces.{DOMAIN}": f"mx.{DOMAIN}"},
        hosts={f"mta.{DOMAIN}": "192.0.2.10", f"mx.{DOMAIN}": "192.0.2.25"},
    ) as dns:
        result = doctor(configure(tmp_path, keys, dns.nameserver), monkeypatch)
    assert result.exit_code == 0, result.output
    assert not [line for line in result.output.splitlines() if line.startswith(("FAIL", "warn"))]
    for name in (
        "base_url",
        "secret_key",
        "postal_address",
        "alignment morning-briefing",
        "alignment weekly-review",
        f"dkim dispatch._domainkey.{DOMAIN}",
        f"dkim dispatch-ed25519._domainkey.{DOMAIN}",
        f"spf bounces.{DOMAIN}",
        f"dmarc {DOMAIN}",
        f"mx bounces.{DOMAIN}",
    ):
        assert f"ok   {name}:" in result.output, name
    assert "10 ok, 0 warnings, 0 blocking" in result.output


def test_broken_records_are_each_named_with_a_fix(
    tmp_path: Path, keys: tuple[bytes, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    other = pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    broken = records(keys)
    broken[f"dispatch._domainkey.{DOMAIN}"] = [load_key(other, "rsa").dns_record()]
    del broken[f"dispatch-ed25519._domainkey.{DOMAIN}"]
    broken[f"_spf.{DOMAIN}"] = ["v=spf1 ip4:198.51.100.0/24 -all"]
    del broken[f"_dmarc.{DOMAIN}"]
    with Dnsmasq([DOMAIN], txt=broken) as dns:
        path = configure(
            tmp_path,
            keys,
            dns.nameserver,
            **{r"^base_url = .*$": 'base_url = "http://news.dispatch.example"'},
        )
        result = doctor(path, monkeypatch, secret="change-me")
    assert result.exit_code == 1
    out = result.output
    assert "FAIL base_url: site.base_url is http://news.dispatch.example" in out
    assert "FAIL secret_key:" in out
    assert f"FAIL dkim dispatch._domainkey.{DOMAIN}: " in out and "a different key" in out
    assert f"FAIL dkim dispatch-ed25519._domainkey.{DOMAIN}: " in out and "no DKIM record" in out
    assert f'fix: publish TXT dispatch._domainkey.{DOMAIN} "v=DKIM1; k=rsa; p=' in out
    assert "FAIL spf bounces.dispatch.example:" in out and "does not allow 192.0.2.10" in out
    assert f"FAIL dmarc {DOMAIN}: " in out and "_dmarc.dispatch.example" in out
    assert f"FAIL mx bounces.{DOMAIN}: " in out and "no MX record" in out


def test_misaligned_domains_block(
    tmp_path: Path, keys: tuple[bytes, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    with Dnsmasq([DOMAIN, "mailer.example"], txt=records(keys)) as dns:
        path = configure(
            tmp_path,
            keys,
            dns.nameserver,
            **{r'^# domain = "bounces.dispatch.example".*$': 'domain = "bounces.mailer.example"'},
        )
        result = doctor(path, monkeypatch)
    assert result.exit_code == 1
    assert "FAIL alignment morning-briefing: " in result.output
    assert "return path domain bounces.mailer.example is not aligned" in result.output


def test_a_dead_nameserver_is_a_clear_failure(
    tmp_path: Path, keys: tuple[bytes, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = configure(tmp_path, keys, f"127.0.0.1:{free_port()}")
    result = doctor(path, monkeypatch)
    assert result.exit_code == 1
    assert "DNS TXT" in result.output and "fix: check [doctor] nameserver" in result.output


def test_spf_coverage_of_the_smtp_relay_when_no_ips_are_listed(
    tmp_path: Path, keys: tuple[bytes, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No traffic goes to the address: DNS only says where mail leaves from."""
    found = records(keys)
    found[f"bounces.{DOMAIN}"] = ["v=spf1 ip4:93.184.216.0/24 -all"]
    with Dnsmasq([DOMAIN], txt=found, hosts={f"relay.{DOMAIN}": "93.184.215.14"}) as dns:
        path = configure(
            tmp_path,
            keys,
            dns.nameserver,
            **{
                r"^sending_ips = .*$": "sending_ips = []",
                r'^backend = "outbox".*$': 'backend = "smtp"',
                r'^host = "127.0.0.1"$': f'host = "relay.{DOMAIN}"',
            },
        )
        result = doctor(path, monkeypatch)
    assert f"FAIL spf bounces.{DOMAIN}: " in result.output
    assert "does not allow 93.184.215.14" in result.output


def test_lists_created_in_the_store_are_checked_too(
    tmp_path: Path, keys: tuple[bytes, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store is the truth after `init`: a list an editor created (not in config.toml)
    with a sender on another domain is named by the alignment check."""
    monkeypatch.setenv("DISPATCH_SECRET_KEY", STRONG)
    with Dnsmasq([DOMAIN, "elsewhere.example"], txt=records(keys)) as dns:
        path = configure(tmp_path, keys, dns.nameserver)
        runner = CliRunner()
        assert runner.invoke(app, ["--config", str(path), "init"]).exit_code == 0
        create = ["lists", "create", "field-notes", "--name", "Field Notes", "--from-name"]
        sender = ["Notes", "--from-email", "notes@elsewhere.example"]
        made = runner.invoke(app, ["--config", str(path), *create, *sender])
        assert made.exit_code == 0, made.output
        result = doctor(path, monkeypatch)
    assert result.exit_code == 1
    assert "ok   alignment morning-briefing:" in result.output
    assert "FAIL alignment field-notes: " in result.output
