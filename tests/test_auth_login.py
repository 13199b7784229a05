"""Editors and login attempts: generic refusals, growing delays, waits per account
and source and per IP (never a lock of the account itself), re-hashing. The `limits`
windows run on real time, so waits are checked with time_machine moving every clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from argon2 import PasswordHasher
from sqlalchemy import select

from dispatch.auth.editors import create_editor, set_active, set_password
from dispatch.auth.lockout import FailureCounter, LockoutPolicy
from dispatch.auth.login import WRONG, Authenticator
from dispatch.auth.passwords import Passwords
from dispatch.errors import AccountError, InvalidAddress
from dispatch.store.database import Database
from dispatch.store.models import Editor, EditorRole
from dispatch.store.types import utcnow
from support.auth import PASSWORD, add_editor, cheap_hasher


def authenticator(hasher: PasswordHasher | None = None) -> Authenticator:
    policy = LockoutPolicy()
    return Authenticator(Passwords(hasher or cheap_hasher()), policy, FailureCounter(policy))


def attempt(db: Database, auth: Authenticator, email: str, password: str, ip: str = "10.0.0.1"):
    with db.session() as session:
        return auth.attempt(session, email, password, ip)


def editor(db: Database, email: str) -> Editor:
    with db.session() as session:
        found = session.scalar(select(Editor).where(Editor.email == email))
        assert found is not None
        return found


def test_create_normalises_the_address_and_refuses_duplicates(db: Database) -> None:
    add_editor(db, "  Ada@Example.COM ", EditorRole.ADMIN)
    stored = editor(db, "ada@example.com")
    assert stored.role is EditorRole.ADMIN and stored.active and stored.session_version == 1
    assert stored.password_hash.startswith("$argon2id$")
    with pytest.raises(AccountError, match=r"\"ada@example\.com\" already exists"):
        add_editor(db, "ADA@example.com")
    with pytest.raises(InvalidAddress), db.session() as session:
        create_editor(session, Passwords(cheap_hasher()), "not an address", PASSWORD)


def test_login_succeeds_in_any_case_and_records_it(db: Database) -> None:
    editor_id = add_editor(db, "ada@example.com")
    outcome = attempt(db, authenticator(), "ADA@Example.com", PASSWORD)
    assert outcome.ok and outcome.editor_id == editor_id and outcome.session_version == 1
    assert outcome.delay == 0 and outcome.error is None
    assert editor(db, "ada@example.com").last_login_at is not None


def test_every_refusal_says_the_same(db: Database) -> None:
    add_editor(db, "ada@example.com")
    add_editor(db, "gone@example.com")
    with db.session() as session:
        set_active(session, "gone@example.com", False)
    auth = authenticator()
    refusals = [
        attempt(db, auth, "ada@example.com", "wrong password!", ip="1.1.1.1"),
        attempt(db, auth, "nobody@example.com", PASSWORD, ip="1.1.1.2"),
        attempt(db, auth, "gone@example.com", PASSWORD, ip="1.1.1.3"),
        attempt(db, auth, "not an address", PASSWORD, ip="1.1.1.4"),
    ]
    assert {r.error for r in refusals} == {WRONG}
    assert not any(r.ok for r in refusals)
    assert {r.delay for r in refusals} == {0.25}


def test_failures_from_one_source_are_slowed_then_that_source_waits(db: Database) -> None:
    add_editor(db, "ada@example.com")
    auth = authenticator()
    with time_machine.travel(utcnow(), tick=False) as traveller:
        outcomes = [attempt(db, auth, "ada@example.com", f"wrong {i}") for i in range(5)]
        assert [o.delay for o in outcomes] == [0.25, 0.5, 1.0, 2.0, 2.0]
        assert [o.error for o in outcomes[:4]] == [WRONG] * 4
        assert outcomes[4].retry_after == 15 * 60 and "Try again in 15 minutes" in (
            outcomes[4].error or ""
        )
        blocked = attempt(db, auth, "ada@example.com", PASSWORD)
        assert not blocked.ok and blocked.retry_after == 15 * 60 and blocked.delay == 0
        assert editor(db, "ada@example.com").locked_until is None  # the account is not locked

        traveller.shift(timedelta(minutes=14))
        assert attempt(db, auth, "ada@example.com", PASSWORD).retry_after == 60
        traveller.shift(timedelta(minutes=1, seconds=1))
        assert attempt(db, auth, "ada@example.com", PASSWORD).ok
    assert editor(db, "ada@example.com").failed_logins == 0


def test_strangers_cannot_lock_the_editor_out(db: Database) -> None:
    """5 wrong passwords from each of 5 addresses: each of them waits, the editor at a
    sixth address logs in at once (no delay on a success)."""
    add_editor(db, "ada@example.com")
    auth = authenticator()
    for source in range(5):
        outcomes = [
            attempt(db, auth, "ADA@example.com", f"guess {i}", ip=f"198.51.100.{source}")
            for i in range(5)
        ]
        assert outcomes[-1].retry_after is not None
        assert attempt(db, auth, "ada@example.com", PASSWORD, ip=f"198.51.100.{source}").retry_after
    assert max(o.delay for o in outcomes) == 2.0  # the crowd is slowed to the cap
    real = attempt(db, auth, "ada@example.com", PASSWORD, ip="192.0.2.10")
    assert real.ok and real.delay == 0 and real.retry_after is None
    wrong_at_home = attempt(db, auth, "ada@example.com", "typo", ip="192.0.2.10")
    assert wrong_at_home.retry_after is None and wrong_at_home.error == WRONG


def test_web_processes_sharing_a_storage_share_the_counts(db: Database) -> None:
    """Two processes' authenticators on one `limits` storage (Redis in production)."""
    from limits.storage import MemoryStorage

    shared, policy = MemoryStorage(), LockoutPolicy()
    first, second = (
        Authenticator(Passwords(cheap_hasher()), policy, FailureCounter(policy, storage=shared))
        for _ in range(2)
    )
    add_editor(db, "ada@example.com")
    for i in range(5):
        attempt(db, first if i % 2 else second, "ada@example.com", f"wrong {i}", ip="192.0.2.1")
    refused = attempt(db, first, "ada@example.com", PASSWORD, ip="192.0.2.1")
    assert not refused.ok and refused.retry_after is not None and refused.retry_after > 890


def test_an_unknown_address_is_counted_like_a_real_one(db: Database) -> None:
    add_editor(db, "ada@example.com")
    auth = authenticator()
    for email, ip in (("ghost@example.com", "10.1.0.1"), ("ada@example.com", "10.1.0.2")):
        outcomes = [attempt(db, auth, email, "x", ip=ip) for _ in range(6)]
        assert [o.retry_after is not None for o in outcomes] == [False] * 4 + [True] * 2
        assert [o.delay for o in outcomes] == [0.25, 0.5, 1.0, 2.0, 2.0, 0.0]


def test_one_ip_trying_many_accounts_is_stopped(db: Database) -> None:
    add_editor(db, "ada@example.com")
    auth = authenticator()
    for i in range(20):
        attempt(db, auth, f"user{i}@example.com", "guess", ip="203.0.113.7")
    from_there = attempt(db, auth, "ada@example.com", PASSWORD, ip="203.0.113.7")
    assert not from_there.ok and from_there.retry_after is not None
    assert attempt(db, auth, "ada@example.com", PASSWORD, ip="203.0.113.8").ok


def test_a_success_resets_the_account_counter(db: Database) -> None:
    add_editor(db, "ada@example.com")
    auth = authenticator()
    for _ in range(4):
        attempt(db, auth, "ada@example.com", "wrong", ip="10.2.0.1")
    assert editor(db, "ada@example.com").failed_logins == 4
    assert attempt(db, auth, "ada@example.com", PASSWORD, ip="10.2.0.1").ok
    assert editor(db, "ada@example.com").failed_logins == 0
    for _ in range(4):  # four more are allowed again: no wait
        assert attempt(db, auth, "ada@example.com", "wrong", ip="10.2.0.1").retry_after is None


def test_login_rehashes_when_the_parameters_changed(db: Database) -> None:
    add_editor(db, "ada@example.com", hasher=cheap_hasher())
    old = editor(db, "ada@example.com").password_hash
    stronger = PasswordHasher(time_cost=2, memory_cost=128, parallelism=1)
    assert attempt(db, authenticator(stronger), "ada@example.com", PASSWORD).ok
    new = editor(db, "ada@example.com").password_hash
    assert new != old and "m=128,t=2" in new
    assert not Passwords(stronger).needs_rehash(new)
    assert attempt(db, authenticator(stronger), "ada@example.com", PASSWORD).ok


def test_set_password_ends_sessions_and_lifts_a_lock(db: Database) -> None:
    add_editor(db, "ada@example.com")
    auth = authenticator()
    for _ in range(5):
        attempt(db, auth, "ada@example.com", "wrong")
    with db.session() as session:
        set_password(session, Passwords(cheap_hasher()), "ADA@example.com", "a brand new secret")
    changed = editor(db, "ada@example.com")
    assert changed.session_version == 2 and changed.locked_until is None
    fresh = authenticator()
    assert not attempt(db, fresh, "ada@example.com", PASSWORD, ip="10.3.0.1").ok
    assert attempt(db, fresh, "ada@example.com", "a brand new secret", ip="10.3.0.2").ok


def test_disable_and_enable_bump_the_session_version(db: Database) -> None:
    add_editor(db, "ada@example.com")
    with db.session() as session:
        set_active(session, "ada@example.com", False)
        set_active(session, "ada@example.com", False)  # no change, no bump
    assert editor(db, "ada@example.com").session_version == 2
    assert not attempt(db, authenticator(), "ada@example.com", PASSWORD).ok
    with db.session() as session:
        set_active(session, "ada@example.com", True)
    assert attempt(db, authenticator(), "ada@example.com", PASSWORD).ok


def test_lockout_policy_delays_double_up_to_the_cap() -> None:
    policy = LockoutPolicy(first_delay=0.5, max_delay=3)
    assert [policy.delay(n) for n in range(6)] == [0, 0.5, 1, 2, 3, 3]
