"""Browser fixtures: a seeded ``modelreg serve`` process, Debian's Chromium under Playwright, fresh pages per test.

One server (SQLite file, tokens reader/writer/boss) and one browser serve the whole session;
each test opens pages in new browser contexts through ``tabs``. Without Chromium, Playwright
or axe-core the tests skip, unless ``$MODELREG_REQUIRE_BROWSER=1`` (CI): then they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.browserkit import CHROMIUM, CHROMIUM_ARGS, Tabs, browser_needed, serve_seeded
from support.serverkit import Running

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser tests after all the others.

    Playwright's sync API marks its event loop as running in the main thread between calls, for as
    long as the session's browser is open, so ``asyncio.run`` in a later test would fail.
    """
    items.sort(key=lambda item: item.path.is_relative_to(_HERE))  # a stable sort keeps each group's order


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """The session's server: seeded, with a token per role (reader, writer, boss)."""
    server = serve_seeded(tmp_path_factory.mktemp("ui-server"), tokens=True)
    try:
        yield server
    finally:
        server.process.stop()


@pytest.fixture(scope="session")
def open_ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A second seeded server with no tokens: every page open to everyone, as on loopback."""
    server = serve_seeded(tmp_path_factory.mktemp("open-ui-server"), tokens=False)
    try:
        yield server
    finally:
        server.process.stop()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium (never a downloaded browser) under Playwright, for the whole session."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        browser_needed("Playwright for Python is not installed (pip install -e '.[test]')")
    if not os.access(CHROMIUM, os.X_OK):
        browser_needed(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium; or set MODELREG_CHROMIUM)")
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Error as exc:
            browser_needed(f"{CHROMIUM} did not start under Playwright: {str(exc).splitlines()[0]}")
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def signed_in_states() -> dict[str, Any]:
    """Cookies of a browser signed in as each token, filled on first use (one sign-in per token per session)."""
    return {}


@pytest.fixture
def tabs(chromium: Any, ui_server: Running, signed_in_states: dict[str, Any]) -> Iterator[Tabs]:
    """Pages of the session's server, each in a new browser context, closed after the test."""
    opened = Tabs(chromium, ui_server, signed_in_states)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def open_tabs(chromium: Any, open_ui_server: Running) -> Iterator[Tabs]:
    """Pages of the server with no tokens."""
    opened = Tabs(chromium, open_ui_server, {})
    try:
        yield opened
    finally:
        opened.close()
