"""Signed links that let an editor set a password: a reset (forgot password) and an
invitation. Each is an itsdangerous timed token with its own salt (a reset link never
works as an invitation), naming the editor and a fingerprint of their password hash as
it was when the link was made. Setting a password changes the hash, so a link works
once: after use, or after any other password change, it is dead. A disabled account's
links do not work either.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from pydantic import SecretStr
from sqlalchemy.orm import Session

from dispatch.errors import TokenError, TokenExpired
from dispatch.store.models import Editor

RESET_MAX_AGE = timedelta(hours=1)
INVITE_MAX_AGE = timedelta(days=7)
PURPOSES = ("reset", "invite")


def fingerprint(password_hash: str) -> str:
    """Enough of the hash's digest to tell it changed; the hash itself never leaves."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class AccountLinks:
    secret_key: SecretStr
    reset_max_age: timedelta = RESET_MAX_AGE
    invite_max_age: timedelta = INVITE_MAX_AGE

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        if purpose not in PURPOSES:
            raise ValueError(f"unknown account link purpose {purpose!r}")
        secret = self.secret_key.get_secret_value()
        if not secret:
            raise TokenError("cannot sign account links: the secret key is empty")
        return URLSafeTimedSerializer(
            secret,
            salt=f"dispatch.tokens.account-{purpose}",
            signer_kwargs={"digest_method": hashlib.sha256},
        )

    def issue(self, purpose: str, editor: Editor) -> str:
        payload = [editor.id, fingerprint(editor.password_hash)]
        return str(self._serializer(purpose).dumps(payload))

    def editor_for(self, session: Session, purpose: str, token: str) -> Editor:
        """The editor a genuine, fresh, unused link names; TokenExpired or TokenError."""
        age = self.reset_max_age if purpose == "reset" else self.invite_max_age
        try:
            editor_id, mark = self._serializer(purpose).loads(
                token, max_age=int(age.total_seconds())
            )
        except SignatureExpired:
            raise TokenExpired(f"{purpose} link expired") from None
        except (BadData, TypeError, ValueError):
            raise TokenError(f"{purpose} link is not valid") from None
        editor = session.get(Editor, editor_id) if isinstance(editor_id, int) else None
        if editor is None or not editor.active or not isinstance(mark, str):
            raise TokenError(f"{purpose} link is not valid")
        if not hmac.compare_digest(mark, fingerprint(editor.password_hash)):
            raise TokenError(f"{purpose} link was used already")
        return editor
