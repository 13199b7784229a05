"""The admin's tables on a 390 px phone (Debian's chromium via Playwright, 390x844):
on the subscribers, campaigns, lists and articles pages, every row's status and action
cells lie inside the viewport's width (their bounding boxes), the page never scrolls
sideways, and the actions can be clicked. Screenshots go to the test's tmp_path
(`<tmp_path>/screenshots-390/`), whose path the test prints."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import write_config
from dispatch import config
from dispatch.campaigns.create import create_note
from dispatch.config import Settings
from dispatch.lists import sync_lists
from dispatch.store import migrate
from dispatch.store.database import Database
from dispatch.store.models import EditorRole
from dispatch.store.types import utcnow
from dispatch.web import create_app
from support.auth import PASSWORD, add_editor
from support.campaigns import add_article, add_subscribers
from support.live_server import free_port, live_server

ADMIN = "ada@newsroom.example"
LIST = "morning-briefing"
WIDTH, HEIGHT = 390, 844
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
PAGES = (
    ("subscribers", f"/admin/lists/{LIST}"),
    ("campaigns", "/admin/campaigns"),
    ("lists", "/admin/lists"),
    ("articles", "/admin/articles"),
)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Settings]]:
    monkeypatch.setenv("DISPATCH_SECRET_KEY", "admin-mobile-secret")
    port = free_port()
    replace = {r"^base_url = .*$": f'base_url = "http://127.0.0.1:{port}"'}
    settings = config.load(write_config(tmp_path, f"sqlite:///{tmp_path / 'd.db'}", replace))
    database = Database(settings.database)
    migrate.upgrade(database.engine)
    with database.session() as session:
        sync_lists(session, settings)
    add_editor(database, ADMIN, EditorRole.ADMIN)
    # Long values are what squeezes a table: a long address, a long title, a long subject.
    add_subscribers(database, LIST, 3, domain="a-rather-long-newsroom-domain.example")
    add_article(database, "storm", title="The harbour reopens after the longest storm in years")
    with database.session() as session:
        subject = "Weekend special: the harbour, the storm and what the city does next"
        create_note(session, settings, LIST, subject, "Body **here**.", utcnow())
    try:
        with live_server(create_app(settings, database), port) as url:
            yield url, settings
    finally:
        database.dispose()


def inside(box: dict[str, float] | None) -> bool:
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= WIDTH + 0.5


def test_status_and_actions_stay_on_a_390px_screen(
    browser: Any, site: tuple[str, Settings], tmp_path: Path
) -> None:
    url, _ = site
    folder = tmp_path / "screenshots-390"
    folder.mkdir()
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    page = context.new_page()
    page.goto(f"{url}/admin/login")
    page.fill("#email", ADMIN)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Log in')")
    page.wait_for_url(f"{url}/admin")
    for name, path in PAGES:
        page.goto(f"{url}{path}")
        rows = page.locator("table.responsive tbody tr")
        assert rows.count() >= 1, f"{name}: no rows"
        for index in range(rows.count()):
            row = rows.nth(index)
            for cell in ("td.col-status", "td.col-actions"):
                target = row.locator(cell)
                assert target.count() == 1, f"{name}: row {index} has no {cell}"
                target.scroll_into_view_if_needed()
                box = target.bounding_box()
                assert inside(box), f"{name}: {cell} of row {index} is off screen: {box}"
            action = row.locator("td.col-actions a, td.col-actions button").first
            action_box = action.bounding_box()
            assert action.is_visible() and inside(action_box), f"{name}: action {action_box}"
        assert page.evaluate(OVERFLOW) <= 0, f"{name}: the page scrolls sideways"
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    # The action really is usable at this width: open the campaign from its row.
    page.goto(f"{url}/admin/campaigns")
    page.locator("table.responsive tbody tr td.col-actions a").first.click()
    page.wait_for_url(f"{url}/admin/campaigns/*")
    page.screenshot(path=str(folder / "campaign-opened.png"), full_page=True)
    # On a desktop the same tables keep their header row and columns.
    wide = browser.new_context(
        viewport={"width": 1280, "height": 900}, storage_state=context.storage_state()
    )
    desk = wide.new_page()
    desk.goto(f"{url}/admin/campaigns")
    assert desk.locator("table.responsive thead th").first.is_visible()
    desk.screenshot(path=str(folder / "campaigns-desktop.png"), full_page=True)
    wide.close()
    context.close()
    shots = sorted(p.name for p in folder.glob("*.png"))
    assert shots == sorted(
        [f"{name}.png" for name, _ in PAGES] + ["campaign-opened.png", "campaigns-desktop.png"]
    )
    print(f"screenshots: {folder}")
