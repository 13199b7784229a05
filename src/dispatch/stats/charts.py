"""The dashboard's two charts from the stats: subscriber growth and recent campaigns."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from dispatch.stats.growth import By, GrowthRow
from dispatch.stats.recent import CampaignNumbers
from dispatch.stats.svg import Chart, Series, bar_chart

GREEN, RED, BLUE, AMBER, VIOLET = "#15803d", "#b91c1c", "#1d4ed8", "#b45309", "#6d28d9"


def growth_chart(rows: Sequence[GrowthRow], by: By) -> Markup:
    period = "day" if by == "day" else "week (from Monday)"
    total = sum(r.net for r in rows)
    return bar_chart(
        Chart(
            id="growth",
            title=f"Subscriber growth per {period}",
            description=(
                f"{len(rows)} periods from {rows[0].label} to {rows[-1].label}: "
                f"{sum(r.subscribed for r in rows):,} subscribed, "
                f"{sum(r.unsubscribed for r in rows):,} unsubscribed, net {total:+,}."
            ),
            labels=[r.label for r in rows],
            bars=[
                Series("subscribed", "Subscribed", [r.subscribed for r in rows], GREEN),
                Series("unsubscribed", "Unsubscribed", [r.unsubscribed for r in rows], RED),
            ],
            line=Series("net", "Net", [r.net for r in rows], BLUE),
        )
    )


def campaigns_chart(rows: Sequence[CampaignNumbers]) -> Markup | None:
    if not rows:
        return None
    return bar_chart(
        Chart(
            id="campaigns",
            title="Recent campaigns: sent, bounced and clicks",
            description=f"The {len(rows)} campaigns started last, oldest first.",
            labels=[r.label for r in rows],
            bars=[
                Series("sent", "Sent", [r.sent for r in rows], BLUE),
                Series("bounced", "Bounced", [r.bounced for r in rows], AMBER),
                Series("clicks", "Clicks", [r.clicks for r in rows], VIOLET),
            ],
        )
    )
