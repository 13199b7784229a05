"""Editors' passwords: argon2id hashes with argon2-cffi's `PasswordHasher`.

The hash string carries its own parameters, so raising them later (a faster machine)
needs no migration: `needs_rehash` tells the login to store a fresh hash while the
plain password is at hand. An unknown email is checked against a dummy hash, so that
a login for a missing account takes as long as one for a real account.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from dispatch.errors import AccountError

MIN_LENGTH = 10
MAX_LENGTH = 1024  # argon2 copes with more; a megabyte "password" is an attack, not a secret


def check_strength(password: str) -> str:
    """`password` if it may be used, else AccountError saying what is wrong with it."""
    if len(password) < MIN_LENGTH:
        raise AccountError(f"password too short: use at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise AccountError(f"password too long: at most {MAX_LENGTH} characters")
    if not password.strip():
        raise AccountError("password is blank")
    return password


class Passwords:
    """Hash, verify, and tell when a stored hash uses outdated parameters."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        return self.hasher.hash(check_strength(password))

    def verify(self, stored_hash: str, password: str) -> bool:
        """True when `password` matches; False for a mismatch or an unreadable hash."""
        if len(password) > MAX_LENGTH:
            return False
        try:
            return self.hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        try:
            return self.hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    def waste_time(self, password: str) -> None:
        """As long as a real verification takes, for logins naming no (active) account."""
        if self._dummy is None:
            self._dummy = self.hasher.hash("dispatch: no such editor")
        self.verify(self._dummy, password)
