"""Editors: create, find, list, change password, disable and enable.

Addresses are stored as every address is (`addresses.normalise_address`: lower case,
look-alikes refused): people type their login address in any case, and two editors
never differ only by case.
Changing the password or disabling an account deletes the editor's session records
(`session_store.end_all`) and bumps `session_version`: every session ends at once, on
every device, whoever calls these functions (the CLI, the admin, a password reset).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.audit import SYSTEM, Actor, record
from dispatch.auth.passwords import Passwords
from dispatch.auth.session_store import end_all
from dispatch.errors import AccountError, InvalidAddress, NotFound
from dispatch.store.models import Editor, EditorRole
from dispatch.store.types import utcnow
from dispatch.subscribers.addresses import normalise_address


def editor_email(raw: str) -> str:
    """The stored form of an editor's address; InvalidAddress when it is not one."""
    return normalise_address(raw)


def login_key(raw: str) -> str:
    """What a typed login address is looked up and counted by (also when malformed)."""
    try:
        return editor_email(raw)
    except InvalidAddress:
        return raw.strip().lower()[:320]


def parse_role(value: str) -> EditorRole:
    try:
        return EditorRole(value)
    except ValueError:
        known = ", ".join(role.value for role in EditorRole)
        raise AccountError(f'unknown role "{value}" (expected one of: {known})') from None


def create_editor(
    session: Session,
    passwords: Passwords,
    email: str,
    password: str,
    role: EditorRole = EditorRole.EDITOR,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> Editor:
    address = editor_email(email)
    if session.scalar(select(Editor.id).where(Editor.email == address)) is not None:
        raise AccountError(f'editor "{address}" already exists')
    editor = Editor(
        email=address,
        password_hash=passwords.hash(password),
        role=role,
        active=True,
        session_version=1,
        failed_logins=0,
        created_at=clock(),
    )
    session.add(editor)
    session.flush()
    return editor


def find_editor(session: Session, email: str) -> Editor:
    address = login_key(email)
    editor = session.scalar(select(Editor).where(Editor.email == address))
    if editor is None:
        raise NotFound(f'no editor "{address}"')
    return editor


def list_editors(session: Session) -> list[Editor]:
    return list(session.scalars(select(Editor).order_by(Editor.email)))


def set_password(
    session: Session,
    passwords: Passwords,
    email: str,
    password: str,
    *,
    actor: Actor = SYSTEM,
    clock: Callable[[], datetime] = utcnow,
) -> Editor:
    """A new password: every session of the editor ends at once, a lock-out is lifted,
    and the audit log says who changed it (`actor`)."""
    editor = find_editor(session, email)
    editor.password_hash = passwords.hash(password)
    _end_everywhere(session, editor)
    editor.failed_logins = 0
    editor.locked_until = None
    record(session, actor, "password.change", clock(), target=f"editor {editor.email}")
    return editor


def set_active(
    session: Session,
    email: str,
    active: bool,
    *,
    actor: Actor = SYSTEM,
    clock: Callable[[], datetime] = utcnow,
) -> Editor:
    """Disable (every session ends at once) or enable an editor."""
    editor = find_editor(session, email)
    if editor.active != active:
        editor.active = active
        _end_everywhere(session, editor)
        action = "editor.enable" if active else "editor.disable"
        record(session, actor, action, clock(), target=f"editor {editor.email}")
    return editor


def end_sessions(session: Session, editor_id: int) -> None:
    """Log an editor out everywhere (every cookie issued so far stops working)."""
    editor = session.get(Editor, editor_id)
    if editor is None:
        raise NotFound(f"no editor with id {editor_id}")
    _end_everywhere(session, editor)


def _end_everywhere(session: Session, editor: Editor) -> None:
    end_all(session, editor.id)
    editor.session_version += 1
