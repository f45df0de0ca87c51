"""The event log page in Chromium: newest first, subjects linked, filters in the URL, paging,
and HTML in any recorded string shown as text."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from cairn.core.entities import RunStatus, RunUpdate
from cairn.core.events import EventType
from cairn.service.policy import Principal

from .conftest import UiServer

if TYPE_CHECKING:
    from playwright.sync_api import Page

HOSTILE = '<img src=x onerror="window.__pwned = 1">'


@pytest.fixture(scope="module")
def seeded(ui_server: UiServer) -> UiServer:
    tracking = ui_server.tracking
    run = tracking.create_run("events-page", name="baseline")
    tracking.update_run(run.id, RunUpdate(status=RunStatus.FINISHED))
    tracking.create_model("digits", "handwriting")
    tracking.set_model_tag("digits", "team", HOSTILE)
    tracking.acting_as(Principal("grace")).update_model("digits", HOSTILE)
    # More than a page of events, so that "Older events" appears.
    for _ in range(60):
        tracking.delete_run(run.id)
        tracking.restore_run(run.id)
    return ui_server


def test_lists_events_newest_first_with_links(page: Page, seeded: UiServer) -> None:
    page.goto(f"{seeded.url}/events?subject=models/digits")
    rows = page.locator("#events-table tbody tr")
    assert rows.count() == 3
    assert rows.nth(0).locator("td").nth(1).inner_text() == EventType.MODEL_UPDATED.value
    assert rows.nth(0).locator("td").nth(3).inner_text() == "grace"
    assert rows.nth(2).locator("td").nth(1).inner_text() == EventType.MODEL_CREATED.value
    link = rows.nth(0).locator("td").nth(2).locator("a")
    assert link.inner_text() == "models/digits" and link.get_attribute("href") == "/models/digits"
    # The hostile description and tag are text, and nothing ran.
    assert HOSTILE in rows.nth(0).inner_text() and HOSTILE in rows.nth(1).inner_text()
    assert page.locator("#events-table img").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_filters_by_type_from_the_select_and_pages(page: Page, seeded: UiServer) -> None:
    page.goto(f"{seeded.url}/events")
    page.select_option("select[name=type]", "run.*")
    page.wait_for_url("**/events?type=run.*")
    types = page.locator("#events-table tbody tr td:nth-child(2)").all_inner_texts()
    assert len(types) == 100 and all(t.startswith("run.") for t in types)
    run_link = page.locator("#events-table tbody tr").first.locator("a")
    assert run_link.get_attribute("href", timeout=1000).startswith("/runs/")  # type: ignore[union-attr]
    page.click("a[rel=next]")
    older = page.locator("#events-table tbody tr td:nth-child(2)").all_inner_texts()
    assert older[-1] == EventType.RUN_CREATED.value and "type=run.%2A" in page.url
    assert page.locator("a[rel=next]").count() == 0


def test_a_bad_filter_is_the_error_page(page: Page, seeded: UiServer, console_errors: list[str]) -> None:
    response = page.goto(f"{seeded.url}/events?actor=%20")
    assert response is not None and response.status == 400
    assert "invalid_value" in page.content()
    assert len(console_errors) == 1 and "400" in console_errors[0]  # the browser logs the status
    console_errors.clear()
