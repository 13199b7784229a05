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


def test_a_run_killed_midway_leaves_one_mail_in_doubt_and_the_button_reaches_the_rest(
    db: Database, settings: Settings
) -> None:
    """The process dies while handing the 3rd of 6 mails to the sender (a BaseException,
    as a kill: nothing after it runs). Only that one stays claimed without a known
    outcome; the admin's button (only those never sent one) then mails the other three."""
    from dispatch.delivery.memory import MemorySender
    from dispatch.subscribers.membership import add_subscriber
    from dispatch.subscribers.reconfirm import send_pending_confirmations

    class Killed(BaseException):
        pass

    class DiesOnThird(MemorySender):
        def deliver(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            if len(self.sent) == 2:
                raise Killed
            return super().deliver(*args, **kwargs)

    with db.session() as session:
        for n in range(6):
            add_subscriber(session, LIST, f"p{n}@example.org")
    dying = DiesOnThird()
    with pytest.raises(Killed):
        send_pending_confirmations(db, settings, LIST, dying, only_new=True)
    first = {str(m.envelope.recipient.email) for m in dying.sent}
    assert first == {"p0@example.org", "p1@example.org"}
    after = MemorySender()
    report = send_pending_confirmations(db, settings, LIST, after, only_new=True)
    rest = {str(m.envelope.recipient.email) for m in after.sent}
    assert rest == {"p3@example.org", "p4@example.org", "p5@example.org"}
    assert (report.pending, report.sent) == (3, 3)  # p2 is the one in doubt
