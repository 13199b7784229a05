"""The message of a campaign, frozen when sending starts and thawed on every resume.

A snapshot is plain JSON in `Campaign.snapshot`: the compiled HTML and text with their
slot tokens, the slot keys in order, and every header value the message needs (sender,
list identity, date). `thaw` rebuilds an identical `CampaignMessage` without Jinja2 or
MJML, so a resume after a crash sends the same bytes even if the articles changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dispatch.delivery.message import CampaignMessage, ListIdentity
from dispatch.delivery.mime import Mailbox
from dispatch.errors import CampaignError
from dispatch.render.prepared import PreparedEmail, SlotTemplate
from dispatch.render.slots import SlotKey, SlotRegistry

VERSION = 1


@dataclass(frozen=True)
class Letterhead:
    """Everything around the prepared content: who sends it, for which list, when."""

    sender: Mailbox
    reply_to: str | None
    mailing_list: ListIdentity
    date: datetime


def freeze(
    prepared: PreparedEmail, around: Letterhead, article_ids: list[int], list_slug: str
) -> dict[str, Any]:
    registry = SlotRegistry()
    keys = list(prepared.keys)
    if len(keys) != len(prepared.getters):
        raise CampaignError(f"{prepared.kind} email: slot keys do not match its getters")
    for key in keys:  # index i in the new registry is key i, as in `prepared`
        registry.token(key)
    return {
        "version": VERSION,
        "kind": prepared.kind,
        "list": list_slug,
        "article_ids": article_ids,
        "subject": prepared.subject,
        "preheader": prepared.preheader,
        "nonce": registry.nonce,
        "slots": [list(key) for key in keys],
        "html": _compiled(prepared.html, registry, keys),
        "text": _compiled(prepared.text, registry, keys),
        "warnings": list(prepared.warnings),
        "from_email": around.sender.email,
        "from_name": around.sender.name,
        "reply_to": around.reply_to,
        "list_name": around.mailing_list.name,
        "site_url": around.mailing_list.site_url,
        "unsubscribe_mailto": around.mailing_list.unsubscribe_mailto,
        "feedback_id": around.mailing_list.feedback_id,
        "date": around.date.isoformat(),
    }


def thaw(snapshot: dict[str, Any] | None, campaign_id: int) -> CampaignMessage:
    """The `CampaignMessage` frozen in `snapshot`; CampaignError when there is none."""
    if not snapshot or snapshot.get("version") != VERSION:
        raise CampaignError(f"campaign {campaign_id} has no usable message snapshot")
    keys: list[SlotKey] = [(str(kind), str(name)) for kind, name in snapshot["slots"]]
    registry = SlotRegistry()
    for key in keys:
        registry.token(key)
    old = re.compile(f"zz{re.escape(snapshot['nonce'])}s([0-9]+)zz")

    def retoken(compiled: str) -> str:
        return old.sub(lambda m: registry.token(keys[int(m.group(1))]), compiled)

    prepared = PreparedEmail.build(
        snapshot["kind"],
        snapshot["subject"],
        snapshot["preheader"],
        retoken(snapshot["html"]),
        retoken(snapshot["text"]),
        registry,
        snapshot["warnings"],
    )
    identity = ListIdentity(
        slug=snapshot["list"],
        name=snapshot["list_name"],
        site_url=snapshot["site_url"],
        unsubscribe_mailto=snapshot["unsubscribe_mailto"],
        feedback_id=snapshot.get("feedback_id", ""),  # absent from snapshots made before it
    )
    return CampaignMessage(
        prepared,
        Mailbox(snapshot["from_email"], snapshot["from_name"]),
        identity,
        datetime.fromisoformat(snapshot["date"]),
        reply_to=snapshot["reply_to"],
    )


def _compiled(template: SlotTemplate, registry: SlotRegistry, keys: list[SlotKey]) -> str:
    pieces = template.pieces.copy()
    for pos, index in template.positions:
        pieces[pos] = registry.token(keys[index])
    return "".join(pieces)
