"""The dashboard's charts in a real browser (Debian's chromium via Playwright) against a
uvicorn server: both SVG charts are drawn, every bar and point carries the value of the
data inserted, switching to weeks redraws without JavaScript, and the CSV link answers.
Screenshots go to `artifacts/screenshots/<test>/`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import write_config
from dispatch import config
from dispatch.config import Settings
from dispatch.lists import sync_lists
from dispatch.stats.growth import growth
from dispatch.store import migrate
from dispatch.store.database import Database
from dispatch.store.models import EditorRole
from dispatch.store.types import utcnow
from dispatch.web import create_app
from support.auth import PASSWORD, add_editor
from support.live_server import free_port, live_server
from test_stats import LIST, populate

EDITOR = "charts@newsroom.example"


@pytest.fixture
def site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Settings, Database]]:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "stats-browser-secret")
    port = free_port()
    settings = config.load(
        write_config(
            tmp_path,
            f"sqlite:///{tmp_path / 'dispatch.db'}",
            {r"^base_url = .*$": f'base_url = "http://127.0.0.1:{port}"'},
        )
    )
    db = Database(settings.database)
    migrate.upgrade(db.engine)
    with db.session() as session:
        sync_lists(session, settings)
    add_editor(db, EDITOR, EditorRole.EDITOR)
    populate(db, around=utcnow())
    try:
        with live_server(create_app(settings, db), port) as url:
            yield url, settings, db
    finally:
        db.dispose()


def drawn(page: Any, chart: str) -> dict[tuple[str, str], int]:
    """(series, label) → value of every bar and point the browser drew in `chart`."""
    found = page.eval_on_selector_all(
        f'svg[data-chart="{chart}"] [data-value]',
        """els => els.map(e => [
            e.dataset.series, e.dataset.label, Number(e.dataset.value),
            e.getBoundingClientRect().width > 0 || e.tagName === 'circle',
            e.querySelector('title') ? e.querySelector('title').textContent : ''])""",
    )
    assert all(visible and title for _, _, _, visible, title in found)
    return {(series, label): value for series, label, value, _, _ in found}


def test_dashboard_charts_show_the_inserted_numbers(
    browser: Any, screenshots: Path, site: tuple[str, Settings, Database]
) -> None:
    url, settings, db = site
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{url}/admin")
    page.fill("#email", EDITOR)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Log in')")
    page.wait_for_url(f"{url}/admin")
    page.locator('svg[data-chart="growth"]').scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "01-dashboard-charts.png"), full_page=True)

    with db.session() as session:
        days = growth(session, utcnow(), settings.site.timezone, "day", 30, LIST)
    expected = {("subscribed", r.label): r.subscribed for r in days}
    expected |= {("unsubscribed", r.label): r.unsubscribed for r in days}
    expected |= {("net", r.label): r.net for r in days}
    assert drawn(page, "growth") == expected
    assert sum(r.subscribed for r in days) == 7 and sum(r.unsubscribed for r in days) == 3
    title = page.locator('svg[data-chart="growth"] > title').text_content()
    assert title == "Subscriber growth per day"
    assert page.locator('svg[data-chart="growth"]').get_attribute("role") == "img"

    campaigns = drawn(page, "campaigns")
    assert sorted(v for (series, _), v in campaigns.items() if series == "sent") == [2, 3]
    assert sorted(v for (series, _), v in campaigns.items() if series == "bounced") == [0, 1]
    assert sorted(v for (series, _), v in campaigns.items() if series == "clicks") == [0, 5]

    page.select_option("#stats-by", "week")
    page.fill("#stats-periods", "4")
    page.click("button:has-text('Show')")
    page.wait_for_url(f"{url}/admin?by=week&periods=4")
    weeks = drawn(page, "growth")
    assert len(weeks) == 12 and sum(v for (s, _), v in weeks.items() if s == "subscribed") >= 6
    page.screenshot(path=str(screenshots / "02-per-week.png"), full_page=True)

    answer = page.request.get(f"{url}/admin/stats/growth.csv?by=week&periods=4")
    assert answer.status == 200 and answer.text().startswith("period_start,subscribed")
    assert errors == []
