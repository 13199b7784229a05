"""`check_sender`: a backend that could not send is reported at once, naming the key to
set, before any campaign exists; a good configuration passes without contacting anyone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conftest import write_config
from dispatch import config
from dispatch.config import Settings
from dispatch.delivery import check
from dispatch.delivery.check import check_sender
from dispatch.errors import ConfigError
from support.smtp_server import free_port

SECRETS = ("DISPATCH_SECRET_KEY", "SENDGRID_API_KEY", "DISPATCH_SMTP_PASSWORD")


@pytest.fixture(autouse=True)
def secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the secrets a test gives: the signing key, unless a test takes it away."""
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "k" * 48)


def load(tmp_path: Path, **replace: str) -> Settings:
    """The default config with whole lines replaced: `{regex: line}`."""
    patterns = {rf"^{key}.*$": line for key, line in replace.items()}
    return config.load(write_config(tmp_path, f"sqlite:///{tmp_path}/d.db", patterns))


def rsa_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


SMTP = {"backend = ": 'backend = "smtp"'}
SENDGRID = {"backend = ": 'backend = "sendgrid"'}
DKIM = {
    "# domain = ": 'domain = "news.example"',
    "# private_key_file = ": 'private_key_file = "dkim.pem"',
}


def test_the_default_outbox_passes_and_its_folder_is_made(tmp_path: Path) -> None:
    settings = load(tmp_path)
    check_sender(settings)
    assert (tmp_path / "var" / "outbox").is_dir()


def test_a_missing_secret_key_file_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISPATCH_SECRET_KEY")
    with pytest.raises(ConfigError) as caught:
        check_sender(load(tmp_path))  # `dispatch init` was never run here
    assert str(caught.value) == (
        f"config.toml: security.secret_key_file: cannot read "
        f"{tmp_path / 'var' / 'secret.key'}: No such file or directory "
        "(set DISPATCH_SECRET_KEY instead, or `dispatch init` creates the secret key)"
    )


def test_no_secret_key_at_all_names_both_ways_to_give_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISPATCH_SECRET_KEY")
    with pytest.raises(ConfigError) as caught:
        check_sender(load(tmp_path, **{"secret_key_file = ": "# no secret_key_file"}))
    assert str(caught.value) == (
        "secret missing: set DISPATCH_SECRET_KEY in the environment or "
        "security.secret_key_file in config.toml"
    )


def test_a_secret_key_file_that_is_empty_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISPATCH_SECRET_KEY")
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "secret.key").write_text("\n")
    with pytest.raises(ConfigError, match=r"security\.secret_key_file: .*secret\.key is empty"):
        check_sender(load(tmp_path))


def test_a_secret_key_file_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPATCH_SECRET_KEY")
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "secret.key").write_text("s" * 48 + "\n")
    check_sender(load(tmp_path))


def test_sendgrid_without_a_key_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        check_sender(load(tmp_path, **SENDGRID))
    assert "SENDGRID_API_KEY" in str(caught.value)
    assert "delivery.sendgrid.api_key_file" in str(caught.value)


def test_sendgrid_with_a_key_passes_without_a_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.key")
    settings = load(
        tmp_path, **SENDGRID, **{'host = "https://api': f'host = "http://127.0.0.1:{free_port()}"'}
    )
    check_sender(settings)  # nobody listens there: nothing is contacted


def test_a_sendgrid_key_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    settings = load(tmp_path, **SENDGRID, **{"# api_key_file = ": 'api_key_file = "nowhere.key"'})
    with pytest.raises(ConfigError, match=r"delivery\.sendgrid\.api_key_file: cannot read"):
        check_sender(settings)


def test_the_backend_can_be_named_explicitly(tmp_path: Path) -> None:
    settings = load(tmp_path)  # outbox configured
    with pytest.raises(ConfigError, match="SENDGRID_API_KEY"):
        check_sender(settings, "sendgrid")


def test_smtp_without_credentials_passes_without_connecting(tmp_path: Path) -> None:
    settings = load(tmp_path, **SMTP, **{"port = 25": f"port = {free_port()}"})
    check_sender(settings)


def test_an_smtp_username_without_a_password_names_it(tmp_path: Path) -> None:
    settings = load(tmp_path, **SMTP, **{"# username = ": 'username = "mailer"'})
    with pytest.raises(ConfigError) as caught:
        check_sender(settings)
    assert "DISPATCH_SMTP_PASSWORD" in str(caught.value)
    assert "delivery.smtp.password_file" in str(caught.value)


def test_an_smtp_password_from_the_environment_or_a_file_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "smtp.password").write_text("s3cret\n")
    with_file = load(
        tmp_path,
        **SMTP,
        **{"# username = ": 'username = "mailer"'},
        **{"# password_file = ": 'password_file = "smtp.password"'},
    )
    check_sender(with_file)
    monkeypatch.setenv("DISPATCH_SMTP_PASSWORD", "s3cret")
    check_sender(load(tmp_path, **SMTP, **{"# username = ": 'username = "mailer"'}))


def test_a_dkim_key_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        check_sender(load(tmp_path, **SMTP, **DKIM))
    assert "delivery.dkim.private_key_file: cannot read" in str(caught.value)
    assert "dkim.pem" in str(caught.value)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"not a key", "not an unencrypted PEM private key"),
        (
            ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            "needs an RSA key",
        ),
    ],
)
def test_an_invalid_dkim_key_is_named(tmp_path: Path, content: bytes, why: str) -> None:
    (tmp_path / "dkim.pem").write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        check_sender(load(tmp_path, **SMTP, **DKIM))
    assert "delivery.dkim.private_key_file" in str(caught.value)
    assert why in str(caught.value)


def test_a_good_dkim_key_passes(tmp_path: Path) -> None:
    (tmp_path / "dkim.pem").write_bytes(rsa_pem())
    check_sender(load(tmp_path, **SMTP, **DKIM))


def test_an_outbox_folder_that_cannot_be_created_is_named(tmp_path: Path) -> None:
    (tmp_path / "var").write_text("a file where the folder should be")
    with pytest.raises(ConfigError) as caught:
        check_sender(load(tmp_path))
    assert str(caught.value).startswith(
        f"config.toml: delivery.outbox.dir: cannot create {tmp_path / 'var' / 'outbox'}: "
    )


def test_an_outbox_folder_that_is_not_writable_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "var" / "outbox"
    folder.mkdir(parents=True)
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):  # root may write anywhere: ask as a user would be answered
        monkeypatch.setattr(check.os, "access", lambda path, mode: Path(path) != folder)
    try:
        with pytest.raises(ConfigError) as caught:
            check_sender(load(tmp_path))
    finally:
        folder.chmod(0o755)
    assert str(caught.value) == f"config.toml: delivery.outbox.dir: {folder} is not writable"
