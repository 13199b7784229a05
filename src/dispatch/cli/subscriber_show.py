"""`dispatch subscribers show EMAIL`: one person, their lists, suppression, and the
bounces and complaints kept about them."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select

from dispatch.campaigns.welcome_report import steps_given
from dispatch.cli.context import app_context, console
from dispatch.errors import NotFound
from dispatch.events.history import for_addresses, for_subscriber
from dispatch.store.models import Subscriber, Suppression
from dispatch.subscribers.addresses import stored_form
from dispatch.subscribers.tags import tags_of


def show_command(
    ctx: typer.Context, email: str = typer.Argument(..., help="Email address.")
) -> None:
    """Lists, suppression, and bounce/complaint history of one address."""
    address = stored_form(email) or email.strip()  # a row kept as typed by migration 0011a
    with app_context(ctx).database().session() as session:
        person = session.scalar(select(Subscriber).where(Subscriber.email == address))
        suppressed = session.get(Suppression, address)
        if person is not None:
            history = for_subscriber(session, person.id, person.email)
        else:
            history = for_addresses(session, [address])
        if person is None and suppressed is None and not history:
            raise NotFound(f"no subscriber, suppression or event for {address}")
        if person is not None:
            console.print(
                f"{escape(person.email)}" + (f" ({escape(person.name)})" if person.name else "")
            )
            console.print(f"Subscriber since {person.created_at:%Y-%m-%d %H:%M %Z}")
            for item in person.subscriptions:
                slug = item.mailing_list.slug
                steps = steps_given(session, slug, [person.email]).get(person.email, [])
                got = f" · welcome steps: {', '.join(steps)}" if steps else ""
                console.print(f"  {slug}: {item.status.value}{got}", markup=False)
            tags = tags_of(session, person.id)
            console.print(f"Tags: {', '.join(tags) if tags else 'none'}", markup=False)
        else:
            console.print(f"{escape(address)}: not a subscriber")
        if suppressed is not None:
            console.print(
                f"Suppressed since {suppressed.created_at:%Y-%m-%d %H:%M %Z} ({suppressed.reason})",
                markup=False,
            )
        else:
            console.print("Not suppressed")
        if not history:
            console.print("No bounces or complaints.")
            return
        table = Table("when", "event", "campaign", "via", "detail")
        for item in history:
            campaign = (
                f"#{item.campaign_id} {item.campaign_subject or ''}" if item.campaign_id else ""
            )
            table.add_row(
                f"{item.when:%Y-%m-%d %H:%M}",
                item.kind,
                escape(campaign.strip()),
                item.provider,
                escape(item.detail or ""),
            )
        console.print(table)
