"""API tokens: `dispatch_<prefix>_<secret>`, shown once, stored as a sha256 hash.

The prefix (8 hex characters) is public: lists show it and it finds the row. The secret
is 40 random letters and digits (about 238 bits), so a fast hash is the right one (no
guessing to slow down); hashes are compared with `hmac.compare_digest`. A token carries
scopes; `admin` allows everything. Names are unique among live (unrevoked) tokens, so a
revoked token's name can be given to its replacement.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.errors import AccountError, AuthError, NotFound
from dispatch.store.models import ApiToken
from dispatch.store.types import utcnow

SCOPES = (
    "articles:read",
    "articles:write",
    "lists:read",
    "subscribers:read",
    "subscribers:write",
    "campaigns:read",
    "campaigns:write",
    "admin",
)
ADMIN = "admin"
LEAD = "dispatch"
SECRET_ALPHABET = string.ascii_letters + string.digits
SECRET_LENGTH = 40
USE_RESOLUTION = timedelta(minutes=1)  # last_used_at is written at most this often


@dataclass(frozen=True)
class IssuedToken:
    token: str  # the only time it exists in clear
    record: ApiToken


@dataclass(frozen=True)
class ApiPrincipal:
    """Who an API request acts as: one live token."""

    token_id: int
    name: str
    prefix: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return ADMIN in self.scopes or scope in self.scopes


def parse_scopes(values: Iterable[str]) -> list[str]:
    """Scopes from `--scope` values (each may hold several, split by commas or spaces)."""
    found = {part for value in values for part in value.replace(",", " ").split()}
    unknown = sorted(found - set(SCOPES))
    if unknown:
        raise AccountError(f"unknown scope {', '.join(unknown)} (known: {', '.join(SCOPES)})")
    if not found:
        raise AccountError(f"a token needs at least one scope (known: {', '.join(SCOPES)})")
    return sorted(found)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session,
    name: str,
    scopes: Iterable[str],
    *,
    created_by: int | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> IssuedToken:
    name = _check_name(name)
    if _live(session, name) is not None:
        raise AccountError(f'a token named "{name}" already exists (revoke it first)')
    prefix = secrets.token_hex(4)
    secret = "".join(secrets.choice(SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
    token = f"{LEAD}_{prefix}_{secret}"
    record = ApiToken(
        name=name,
        prefix=prefix,
        token_hash=hash_token(token),
        scopes=parse_scopes(scopes),
        created_by=created_by,
        created_at=clock(),
    )
    session.add(record)
    session.flush()
    return IssuedToken(token, record)


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.name, ApiToken.id)))


def revoke_token(
    session: Session, name: str, *, clock: Callable[[], datetime] = utcnow
) -> ApiToken:
    record = _live(session, name.strip())
    if record is None:
        raise NotFound(f'no live token named "{name.strip()}"')
    record.revoked_at = clock()
    return record


def authenticate_token(
    session: Session, presented: str, *, clock: Callable[[], datetime] = utcnow
) -> ApiPrincipal:
    """The live token `presented` is; AuthError saying why it is refused."""
    lead, _, rest = presented.partition("_")
    prefix, _, secret = rest.partition("_")
    if lead != LEAD or len(prefix) != 8 or not secret:
        raise AuthError("not a Dispatch API token (expected dispatch_<prefix>_<secret>)")
    record = session.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
    if record is None or not hmac.compare_digest(record.token_hash, hash_token(presented)):
        raise AuthError(f"unknown API token dispatch_{prefix}_…")
    if record.revoked_at is not None:
        raise AuthError(f'API token "{record.name}" was revoked')
    now = clock()
    if record.last_used_at is None or now - record.last_used_at >= USE_RESOLUTION:
        record.last_used_at = now
    return ApiPrincipal(record.id, record.name, record.prefix, frozenset(record.scopes))


def _live(session: Session, name: str) -> ApiToken | None:
    query = select(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
    return session.scalar(query)


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100 or not name.isprintable():
        raise AccountError(f"token name {name!r}: use 1 to 100 printable characters")
    return name
