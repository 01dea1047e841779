"""axe-core (served from tests/node, never a CDN) finds no serious or critical violation on any page."""

from __future__ import annotations

import pytest

from support.browserkit import PAGES, PHONE, Tabs, axe_violations

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("name", list(PAGES))
def test_page_has_no_serious_accessibility_violation(tabs: Tabs, name: str) -> None:
    path, _ = PAGES[name]
    page = tabs.open(path, who=None if name == "login" else "reader", bypass_csp=True)  # to inject axe's script

    found = axe_violations(page)
    assert not found, f"axe-core found on {path}:\n" + "\n".join(found)


@pytest.mark.parametrize("path", ["/models/mobilenet-v3", "/models/mobilenet-v3/versions/2.2.0", "/promotions",
                                  "/models/bert-base"])
def test_pages_with_write_forms_have_no_serious_accessibility_violation(tabs: Tabs, path: str) -> None:
    page = tabs.open(path, who="boss", bypass_csp=True)

    found = axe_violations(page)
    assert not found, f"axe-core found on {path} (signed in as admin):\n" + "\n".join(found)


def test_model_page_at_phone_width_has_no_serious_accessibility_violation(tabs: Tabs) -> None:
    page = tabs.open(PAGES["model"][0], who="reader", viewport=PHONE, bypass_csp=True)

    found = axe_violations(page)
    assert not found, "axe-core found on the phone-width model page:\n" + "\n".join(found)
