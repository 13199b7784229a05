from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from dispatch.auth.passwords import MAX_LENGTH, MIN_LENGTH, Passwords, check_strength
from dispatch.errors import AccountError
from support.auth import cheap_hasher

PW = "a long enough password"


def test_hash_verifies_only_the_same_password() -> None:
    passwords = Passwords(cheap_hasher())
    stored = passwords.hash(PW)
    assert stored.startswith("$argon2id$") and PW not in stored
    assert passwords.verify(stored, PW)
    assert not passwords.verify(stored, PW + "!")
    assert not passwords.verify(stored, PW.upper())


def test_same_password_hashes_differently_each_time() -> None:
    passwords = Passwords(cheap_hasher())
    assert passwords.hash(PW) != passwords.hash(PW)


def test_unreadable_hash_is_a_mismatch_not_a_crash() -> None:
    passwords = Passwords(cheap_hasher())
    assert not passwords.verify("not-a-hash", PW)
    assert passwords.needs_rehash("not-a-hash")


def test_needs_rehash_when_parameters_change() -> None:
    old = Passwords(cheap_hasher()).hash(PW)
    assert not Passwords(cheap_hasher()).needs_rehash(old)
    stronger = Passwords(PasswordHasher(time_cost=2, memory_cost=128, parallelism=1))
    assert stronger.needs_rehash(old)
    assert stronger.verify(old, PW)  # the old hash still verifies until it is replaced


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("x" * (MIN_LENGTH - 1), "too short"),
        (" " * MIN_LENGTH, "blank"),
        ("x" * (MAX_LENGTH + 1), "too long"),
    ],
)
def test_weak_passwords_are_refused(password: str, reason: str) -> None:
    with pytest.raises(AccountError, match=reason):
        check_strength(password)
    with pytest.raises(AccountError, match=reason):
        Passwords(cheap_hasher()).hash(password)


def test_an_oversized_password_is_refused_without_hashing() -> None:
    passwords = Passwords(cheap_hasher())
    assert not passwords.verify(passwords.hash(PW), "x" * (MAX_LENGTH + 1))


def test_waste_time_verifies_a_dummy_hash() -> None:
    passwords = Passwords(cheap_hasher())
    passwords.waste_time(PW)
    assert passwords._dummy is not None and passwords._dummy.startswith("$argon2id$")
