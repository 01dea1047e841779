"""No page asks anything of another server (every request goes to modelreg serve itself), and none logs an error."""

from __future__ import annotations

import pytest

from support.browserkit import PAGES, Tabs

pytestmark = pytest.mark.browser


def test_no_page_makes_a_request_outside_the_server_or_logs_a_script_error(tabs: Tabs) -> None:
    for name in PAGES:
        tabs.visit(name)  # waits for the load event: the stylesheet, the script and what the script asks for

    outside = [seen for seen in tabs.requests if not seen.split(" ", 1)[1].startswith(tabs.url + "/")]
    assert outside == [], f"requests outside {tabs.url}: {outside}"
    asked = {seen.split(" ", 1)[1].split("?")[0].removeprefix(tabs.url) for seen in tabs.requests}
    assert {"/static/style.css", "/static/ui.js"} <= asked, asked  # the recorder saw the page's own assets
    assert tabs.errors == []  # no script error, no inline script or style blocked by the CSP
