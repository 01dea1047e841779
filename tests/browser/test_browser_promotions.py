"""A governed promotion end to end in a real browser: CI requests over the API, alice and bob approve on the pages."""

from __future__ import annotations

import re

import httpx
import pytest

from support.browserkit import GOVERNED_MODEL, PEOPLE, Tabs, playwright_expect, screenshot

expect = playwright_expect()
pytestmark = pytest.mark.browser

_MODEL_PAGE = f"/models/{GOVERNED_MODEL}"


def _api(tabs: Tabs, who: str) -> httpx.Client:
    return httpx.Client(base_url=tabs.url, headers={"Authorization": f"Bearer {PEOPLE[who][1]}"}, timeout=10)


def test_ci_requests_over_the_api_alice_and_bob_approve_in_the_browser_and_production_moves(tabs: Tabs) -> None:
    with _api(tabs, "ci") as ci:
        made = ci.post("/api/v1/promotions", json={"name": GOVERNED_MODEL, "alias": "production", "version": "1.1.0",
                                                    "reason": "auc 0.93 on the March holdout"})
        assert made.status_code == 201, made.text
        number = made.json()["id"]
    row_name = re.compile(rf"^{number}\b")

    alice = tabs.open("/promotions", who="alice")
    row = alice.get_by_role("row").filter(has=alice.get_by_role("rowheader", name=row_name))
    expect(row).to_contain_text("auc 0.93 on the March holdout")
    expect(row).to_contain_text("0/2")
    row.get_by_role("button", name="Approve").click()
    expect(alice.get_by_role("heading", level=1)).to_have_text("Confirm the change")
    expect(alice.get_by_role("main")).to_contain_text("This is approval 1 of 2")
    alice.get_by_role("button", name=f"Approve promotion {number}").click()
    expect(alice.get_by_role("status")).to_have_text("Your approval was recorded; the request waits for more.")
    row = alice.get_by_role("row").filter(has=alice.get_by_role("rowheader", name=row_name))
    expect(row).to_contain_text("1/2 by alice")
    expect(row.get_by_role("button", name="Approve")).to_have_count(0)  # one actor counts once

    bob = tabs.open("/promotions", who="bob")
    screenshot(bob, "promotions")
    bob.goto(_MODEL_PAGE)
    aside = bob.get_by_role("complementary", name="About this model")
    expect(aside.get_by_role("list", name="Policy of production")).to_contain_text("requires metrics.auc >= 0.9")
    row = bob.get_by_role("row").filter(has=bob.get_by_role("rowheader", name=row_name))
    row.get_by_role("button", name="Approve").click()
    expect(bob.get_by_role("main")).to_contain_text("This is the last approval needed (2 of 2): production moves to "
                                                    "1.1.0 now")
    bob.get_by_role("button", name=f"Approve promotion {number}").click()

    expect(bob).to_have_url(re.compile(re.escape(_MODEL_PAGE) + r"\?notice=promotion-done"))
    aside = bob.get_by_role("complementary", name="About this model")
    expect(aside.get_by_role("listitem").filter(has_text=re.compile(r"^production →")).first).to_contain_text(
        "production → 1.1.0")
    expect(aside.get_by_text(re.compile(r"production: 1\.0\.0 → 1\.1\.0 by bob"))).to_be_visible()
    decided = bob.get_by_role("row").filter(has=bob.get_by_role("rowheader", name=row_name))
    expect(decided).to_contain_text("approved by bob")
    with _api(tabs, "ci") as ci:
        assert ci.get(f"/api/v1/models/{GOVERNED_MODEL}/aliases").json()["aliases"]["production"] == "1.1.0"
    assert not tabs.errors, tabs.errors  # no CSP violation, no script error on any of these pages
