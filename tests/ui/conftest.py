"""Fixtures for the dashboard's browser tests: Debian's Chromium driven by Playwright.

``ui_server`` is a real Cairn server on a loopback port over a fresh SQLite store (one per test
module: starting a server and seeding data is the slow part), with ``.tracking`` to seed it.
``page`` is a new browser context and tab per test, failing the test on any console error or
uncaught exception; a test that expects one removes it from ``console_errors``.

Chromium is the apt package ``chromium`` (``/usr/bin/chromium``), or ``CAIRN_CHROMIUM``; never
a browser downloaded by ``playwright install``. Without one the tests skip, except under CI,
where they fail: a CI run must not pass by skipping the browser.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from bench._chromium import CHROMIUM_ARGS, find_chromium
from tests.helpers import IN_CI, ThreadedServer, free_port

from cairn.blobs.local import LocalBlobStore
from cairn.service.policy import Principal
from cairn.service.tracking import TrackingService
from cairn.settings import ServerSettings
from cairn.store.sql import SqlStore

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Error, Page

VIEWPORT = {"width": 1366, "height": 800}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder is a browser test (``-m "not browser"`` leaves them out)."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None or not os.access(path, os.X_OK):
        message = (
            f"no Chromium to drive (looked at CAIRN_CHROMIUM={os.environ.get('CAIRN_CHROMIUM', '')!r}, "
            "/usr/bin/chromium and the PATH): `apt-get install chromium` (never `playwright install`)"
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Browser]:
    """One headless Chromium for the whole session; each test gets its own context."""
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        launched = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
    finally:
        playwright.stop()


@pytest.fixture
def color_scheme() -> str:
    """The page's ``prefers-color-scheme``; ``@pytest.mark.parametrize("color_scheme", ["dark"])``
    on a test overrides it."""
    return "light"


@pytest.fixture
def console_errors() -> list[str]:
    """What the page logged as console errors and uncaught exceptions, in order.

    ``page`` fails the test at teardown if it is not empty: a test that provokes an error on
    purpose checks it and then removes it (``console_errors.clear()``)."""
    return []


@pytest.fixture
def page(browser: Browser, color_scheme: str, console_errors: list[str]) -> Iterator[Page]:
    """A tab in a fresh context (no cookies or storage from other tests), 1366×800."""
    context = browser.new_context(viewport=VIEWPORT, color_scheme=color_scheme)  # type: ignore[arg-type]
    tab = context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            location = message.location
            where = f" ({location['url']}:{location['lineNumber']})" if location.get("url") else ""
            console_errors.append(f"console error: {message.text}{where}")

    def on_page_error(error: Error) -> None:
        console_errors.append(f"uncaught {error.name or 'exception'}: {error.message}")

    tab.on("console", on_console)
    tab.on("pageerror", on_page_error)
    try:
        yield tab
    finally:
        context.close()
    assert not console_errors, "the page reported errors:\n" + "\n".join(console_errors)


@pytest.fixture
def violations(page: Page) -> Iterator[list[str]]:
    """The Content-Security-Policy violations the pages opened in ``page`` report; the test
    fails on any (the ``securitypolicyviolation`` event says which directive refused what)."""
    found: list[str] = []
    page.expose_function("reportViolation", lambda text: found.append(text))
    page.add_init_script(
        """document.addEventListener('securitypolicyviolation',
            (e) => window.reportViolation(
                `${e.effectiveDirective} refused ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`))"""
    )
    yield found
    assert found == []


@dataclass
class UiServer:
    """A running server (``url``) and an in-process tracking service on the same store."""

    url: str
    tracking: TrackingService
    store_uri: str
    blobs_uri: str


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    """A real Cairn server on a free loopback port over a new SQLite store, for one test module.

    ``tracking`` writes to the same database and blob folder the server reads (embedded mode,
    as a training script on the same machine would): seed data through it, in a module-scoped
    fixture of the test module, then open ``url`` pages in ``page``."""
    root = tmp_path_factory.mktemp("ui-server")
    settings = ServerSettings(store_uri=str(root / "cairn.db"), blobs_uri=str(root / "blobs"), port=free_port())
    with ThreadedServer(settings) as running:
        tracking = TrackingService(
            SqlStore(settings.store_uri), Principal("tester"), blobs=LocalBlobStore(settings.blobs_uri)
        )
        try:
            yield UiServer(running.url, tracking, settings.store_uri, settings.blobs_uri)
        finally:
            tracking.close()
