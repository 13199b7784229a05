from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from dispatch import config
from dispatch.errors import ConfigError
from dispatch.setup import default_config_text

ROOT = Path(__file__).parent.parent


def _raw() -> dict:
    return tomllib.loads(default_config_text())


def _error(raw: dict, name: str = "config.toml") -> str:
    with pytest.raises(ConfigError) as info:
        config.parse(raw, Path("/srv/site") / name)
    return str(info.value)


def test_top_level_config_is_the_packaged_default() -> None:
    assert (ROOT / "config.toml").read_text() == default_config_text()


def test_default_config_loads_and_resolves_paths_against_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(default_config_text())
    settings = config.load(path)
    assert settings.database.url == f"sqlite:///{tmp_path}/var/dispatch.db"
    assert settings.delivery.outbox.dir == tmp_path / "var" / "outbox"
    assert settings.feeds.public_dir == tmp_path / "var" / "public"
    assert [x.slug for x in settings.lists] == ["morning-briefing", "weekly-review"]
    assert settings.list_timezone(settings.lists[1]) == "Europe/London"


def test_bad_cron_names_file_key_and_value() -> None:
    raw = _raw()
    raw["lists"][1]["schedule"] = "every day"
    assert _error(raw).startswith('config.toml: lists[1].schedule: "every day" is not a cron')


def test_unknown_keys_are_errors_not_ignored() -> None:
    raw = _raw()
    raw["web"]["prot"] = 8000
    raw["nonsense"] = {}
    message = _error(raw)
    assert "config.toml: web.prot: unknown key" in message
    assert "config.toml: nonsense: unknown key" in message


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        ("web", "port", "eighty", "web.port: Input should be a valid integer"),
        ("delivery", "backend", "pigeon", "delivery.backend: Input should be 'outbox'"),
        ("site", "timezone", "Mars/Olympus", 'site.timezone: "Mars/Olympus" is not a time zone'),
        ("site", "base_url", "example.org", 'site.base_url: "example.org" is not an absolute'),
        ("database", "url", "mysql://x/y", 'database.url: "mysql://x/y" is not a database URL'),
        ("web", "session_hours", 0, "web.session_hours: Input should be greater than 0"),
        ("web", "login_failures_per_source", 0, "web.login_failures_per_source: Input should be"),
    ],
)
def test_wrong_values_are_named(section: str, key: str, value: object, expected: str) -> None:
    raw = _raw()
    raw[section][key] = value
    assert expected in _error(raw)


def test_bad_list_address_and_duplicate_slug() -> None:
    raw = _raw()
    raw["lists"][0]["from_email"] = "not-an-address"
    assert 'lists[0].from_email: "not-an-address" is not a usable email address' in _error(raw)
    raw = _raw()
    raw["lists"][1]["slug"] = raw["lists"][0]["slug"]
    assert 'slug "morning-briefing" is used twice' in _error(raw)


def test_missing_required_key() -> None:
    raw = _raw()
    del raw["site"]["postal_address"]
    assert "config.toml: site.postal_address: required key is missing" in _error(raw)


def test_settings_are_frozen(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(default_config_text())
    settings = config.load(path)
    with pytest.raises(ValueError, match="frozen"):
        settings.web.port = 1  # type: ignore[misc]


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[site\n")
    with pytest.raises(ConfigError, match=r"config\.toml: not valid TOML"):
        config.load(path)
    with pytest.raises(ConfigError, match="no such file"):
        config.load(tmp_path / "absent.toml")


def test_secrets_come_from_environment_or_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(default_config_text())
    settings = config.load(path)
    monkeypatch.delenv("DISPATCH_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match=r"security\.secret_key_file: cannot read"):
        _ = settings.secret_key
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "secret.key").write_text("from-file\n")
    assert settings.secret_key.get_secret_value() == "from-file"
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "from-env")
    assert settings.secret_key.get_secret_value() == "from-env"
    monkeypatch.delenv("SENDGRID_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="set SENDGRID_API_KEY"):
        _ = settings.sendgrid_api_key


def test_config_selected_by_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text(default_config_text())
    monkeypatch.setenv("DISPATCH_CONFIG", str(path))
    assert config.load().path == path


def test_list_sections_are_keys(tmp_path: Path) -> None:
    raw = _raw()
    raw["lists"][0]["sections"] = ["World", "Science & Tech"]
    settings = config.parse(raw, tmp_path / "config.toml")
    assert settings.lists[0].sections == ("world", "science-tech")
    raw["lists"][0]["sections"] = ["!!!"]
    assert 'lists[0].sections[0]: "!!!" is not a section name' in _error(raw)
