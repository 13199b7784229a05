from __future__ import annotations

import re
from collections.abc import Callable
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
from typer.testing import Result

from dispatch.config import Settings
from dispatch.store.database import Database
from dispatch.subscribers import suppress_address
from dispatch.tokens import Tokens

LIST = "morning-briefing"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "reconfirm-secret")


def test_pending_subscribers_get_one_confirmation_an_hour(
    cli: Callable[..., Result], db: Database, settings: Settings, tmp_path: Path
) -> None:
    people = tmp_path / "people.csv"
    people.write_text("email,name\nann@example.org,Ann\nbob@example.org,Bob\nzed@example.org,Zed\n")
    assert cli("subscribers", "import", str(people), "--list", LIST).exit_code == 0
    with db.session() as session:
        suppress_address(session, "zed@example.org", reason="complaint")

    first = cli("subscribers", "confirm-pending", "--list", LIST, "--yes")
    assert first.exit_code == 0, first.output
    assert "pending: 2, confirmation mails sent: 2" in first.output
    outbox = sorted((settings.delivery.outbox.dir / "0").glob("*.eml"))
    assert len(outbox) == 2
    tokens = Tokens("reconfirm-secret")
    seen = set()
    for path in outbox:
        message = message_from_bytes(path.read_bytes(), policy=default)
        seen.add(message["To"].addresses[0].addr_spec)
        text = message.get_body(("plain",)).get_content()
        token = re.search(r"/confirm/([\w.-]+)", text)
        assert token is not None
        assert tokens.verify_confirm(token.group(1)).list_slug == LIST
    assert seen == {"ann@example.org", "bob@example.org"}

    again = cli("subscribers", "confirm-pending", "--list", LIST, "--yes")
    assert again.exit_code == 0, again.output
    assert "confirmation mails sent: 0, skipped (one sent in the last hour): 2" in again.output
    assert len(list((settings.delivery.outbox.dir / "0").glob("*.eml"))) == 2


def test_unknown_list_is_a_clear_error(cli: Callable[..., Result]) -> None:
    result = cli("subscribers", "confirm-pending", "--list", "nope", "--yes")
    assert result.exit_code == 2 and 'no list "nope"' in result.output
