"""Writing from a real browser: who sees which form, the confirmation step, and the forged posts refused."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from support.browserkit import WRITE_ALIASES, WRITE_MODEL, Tabs, playwright_expect
from support.serverkit import bearer

expect = playwright_expect()
pytestmark = pytest.mark.browser

_MODEL_PAGE = f"/models/{WRITE_MODEL}"
_WRITE_BUTTONS = re.compile(r"alias|annotation|unregister|remove|move|point", re.IGNORECASE)
_FORGE = """async ([url, fields]) => {
    const response = await fetch(url, {method: 'POST', body: new URLSearchParams(fields), redirect: 'manual'});
    return [response.status, await response.text()];
}"""


def _aliases(tabs: Tabs) -> dict[str, str]:
    """The write model's aliases, as the API tells them."""
    answer = httpx.get(f"{tabs.url}/api/v1/models/{WRITE_MODEL}/aliases", headers=bearer("reader"), timeout=10)
    answer.raise_for_status()
    body = answer.json()
    return dict(body.get("aliases", body))


def _csrf(page: Any) -> str:
    """The CSRF field of this page's forms (every page has one: the sign-out form)."""
    return str(page.locator("input[name=csrf]").first.input_value())


def test_a_write_token_moves_production_after_confirming_and_the_model_page_shows_it(tabs: Tabs) -> None:
    before, after = WRITE_ALIASES["production"], "2.0.0"
    page = tabs.open(_MODEL_PAGE, who="writer")  # production has no policy: a write token may move it
    page.get_by_label("Alias", exact=True).fill("production")
    page.get_by_label("Version", exact=True).fill(after)
    page.get_by_role("button", name="Set alias").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm the change")
    expect(page.get_by_role("listitem").filter(has_text="Move production")).to_have_text(
        f"Move production from {before} to {after}")
    assert _aliases(tabs)["production"] == before  # nothing changes before the confirmation
    page.get_by_role("button", name="Move production").click()

    expect(page).to_have_url(re.compile(re.escape(_MODEL_PAGE)))
    aliases = page.get_by_role("complementary", name="About this model")
    expect(aliases.get_by_role("listitem").filter(has_text=re.compile(r"^production →"))).to_have_text(
        f"production → {after}")
    expect(aliases.get_by_text(f"production: {before} → {after} by writer")).to_be_visible()
    assert _aliases(tabs)["production"] == after


def test_a_write_token_sees_the_alias_forms_and_can_annotate_a_version(tabs: Tabs) -> None:
    page = tabs.open(f"{_MODEL_PAGE}/versions/2.0.0", who="writer")
    expect(page.get_by_text("Point an alias here")).to_have_count(1)  # a write token moves unprotected aliases
    expect(page.get_by_label("Alias", exact=True)).to_have_count(1)
    page.goto(_MODEL_PAGE)
    expect(page.get_by_text("Set or move an alias")).to_have_count(1)
    expect(page.get_by_role("button", name="Set alias")).to_have_count(1)

    page.goto(f"{_MODEL_PAGE}/versions/2.0.0")
    page.get_by_text("Annotate this version").click()
    page.get_by_label("Description").fill("Retrained with the fixed labels (ticket 4411).")
    page.get_by_role("button", name="Save annotations").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm the change")
    page.get_by_role("button", name="Save annotations").click()

    expect(page).to_have_url(re.compile(re.escape(f"{_MODEL_PAGE}/versions/2.0.0")))
    expect(page.get_by_role("main")).to_contain_text("Retrained with the fixed labels (ticket 4411).")


def test_a_read_token_sees_no_form_and_a_forged_post_with_its_csrf_token_is_refused(tabs: Tabs) -> None:
    page = tabs.open(f"{_MODEL_PAGE}/versions/2.1.0", who="reader")
    expect(page.get_by_role("heading", name="Change this version")).to_have_count(0)
    expect(page.get_by_role("button", name=_WRITE_BUTTONS)).to_have_count(0)
    page.goto(_MODEL_PAGE)
    expect(page.get_by_role("heading", name="Change this model")).to_have_count(0)
    expect(page.get_by_role("button", name=_WRITE_BUTTONS)).to_have_count(0)
    expect(page.get_by_label("Alias", exact=True)).to_have_count(0)

    fields = {"csrf": _csrf(page), "action": "set", "alias": "production", "version": "2.2.0", "confirm": "yes",
              "back": _MODEL_PAGE}
    status, text = page.evaluate(_FORGE, [f"{_MODEL_PAGE}/aliases", fields])
    assert status == 403, text[:500]
    annotate = {"csrf": fields["csrf"], "description": "forged", "confirm": "yes"}
    status, text = page.evaluate(_FORGE, [f"{_MODEL_PAGE}/versions/2.1.0/annotate", annotate])
    assert status == 403, text[:500]
    assert _aliases(tabs)["production"] != "2.2.0"


def test_a_post_without_the_csrf_token_is_refused_even_for_an_admin(tabs: Tabs) -> None:
    page = tabs.open(_MODEL_PAGE, who="boss")
    fields = {"action": "set", "alias": "staging", "version": "2.0.0", "confirm": "yes", "back": _MODEL_PAGE}
    status, text = page.evaluate(_FORGE, [f"{_MODEL_PAGE}/aliases", fields])
    assert status == 403 and "CSRF" in text, text[:500]
    status, text = page.evaluate(_FORGE, [f"{_MODEL_PAGE}/aliases", {**fields, "csrf": "0" * 64}])
    assert status == 403 and "CSRF" in text, text[:500]
    status, _ = page.evaluate(_FORGE, ["/logout", {}])
    assert status == 403
    assert _aliases(tabs)["staging"] == WRITE_ALIASES["staging"]
    page.reload()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()  # still signed in: logout was refused
