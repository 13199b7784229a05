"""Lifting a suppression: an editor says why (required, kept in `suppression_lifts` with
who and when, and the reason the address had been suppressed for).

A complaint suppression (the person marked our mail as spam) is refused unless the
editor confirms it explicitly: mailing someone who complained hurts the sender's
reputation with every receiver, and the rules of Gmail and Yahoo count complaints.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from dispatch.errors import AccountError, NotFound
from dispatch.events.types import EventType
from dispatch.store.models import Event, Suppression, SuppressionLift
from dispatch.subscribers.addresses import normalise_address

COMPLAINT_REASONS = {"complaint", "complained", "spamreport", "abuse", "feedback-report"}
REASON_MAX = 2000


class ComplaintNotConfirmed(AccountError):
    """The suppression came from a complaint and the editor did not confirm lifting it."""


def is_complaint(session: Session, suppression: Suppression) -> bool:
    if suppression.reason.strip().lower() in COMPLAINT_REASONS:
        return True
    complained = exists().where(
        Event.email == suppression.email, Event.type == EventType.COMPLAINED.value
    )
    return bool(session.scalar(select(complained)))


def lift_suppression(
    session: Session,
    email: str,
    reason: str,
    lifted_by: str,
    now: datetime,
    *,
    complaint_confirmed: bool = False,
) -> SuppressionLift:
    """Remove the suppression of `email`, recording why; see the module docstring."""
    address = normalise_address(email)
    why = " ".join(reason.split())
    if not why:
        raise AccountError("say why the suppression is lifted (the reason is kept)")
    if len(why) > REASON_MAX:
        raise AccountError(f"the reason is too long: at most {REASON_MAX} characters")
    found = session.get(Suppression, address, with_for_update=True)
    if found is None:
        raise NotFound(f"{address} is not suppressed")
    if is_complaint(session, found) and not complaint_confirmed:
        raise ComplaintNotConfirmed(
            f"{address} complained about our mail ({found.reason}): confirm explicitly to "
            "mail them again"
        )
    lift = SuppressionLift(
        email=address,
        previous_reason=found.reason,
        suppressed_at=found.created_at,
        reason=why,
        lifted_by=lifted_by,
        lifted_at=now,
    )
    session.add(lift)
    session.delete(found)
    session.flush()
    return lift


def lifts_of(session: Session, email: str) -> list[SuppressionLift]:
    query = select(SuppressionLift).where(SuppressionLift.email == email)
    return list(session.scalars(query.order_by(SuppressionLift.lifted_at.desc())))
