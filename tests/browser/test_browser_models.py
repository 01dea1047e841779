"""The models page in a real browser: the filter box, and reaching it from the keyboard."""

from __future__ import annotations

import pytest

from support.browserkit import Tabs, playwright_expect

expect = playwright_expect()
pytestmark = pytest.mark.browser


def test_filtering_models_keeps_only_the_matching_rows(tabs: Tabs) -> None:
    page = tabs.visit("models")
    page.get_by_label("Filter by name or description").fill("bert")
    page.get_by_role("button", name="Apply").click()

    expect(page).to_have_url(f"{tabs.url}/?q=bert&sort=name")
    body = page.get_by_role("table").get_by_role("rowgroup").last
    expect(body.get_by_role("row")).to_have_count(2)
    expect(body.get_by_role("link", name="bert-base", exact=True)).to_be_visible()
    expect(body.get_by_role("link", name="distilbert-base", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="resnet50", exact=True)).to_have_count(0)


def test_filtering_by_description_finds_a_model_whose_name_does_not_match(tabs: Tabs) -> None:
    page = tabs.visit("models")
    page.get_by_label("Filter by name or description").fill("photo-tagging")
    page.get_by_label("Filter by name or description").press("Enter")

    expect(page.get_by_role("link", name="resnet50", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="bert-base", exact=True)).to_have_count(0)


def test_a_filter_matching_nothing_says_so(tabs: Tabs) -> None:
    page = tabs.open("/?q=no-model-is-called-this", who="reader")

    expect(page.get_by_text("No model matches")).to_be_visible()
    expect(page.get_by_role("table")).to_have_count(0)


def test_tab_reaches_the_skip_link_first_and_it_moves_focus_to_the_content(tabs: Tabs) -> None:
    page = tabs.visit("models")
    page.keyboard.press("Tab")

    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()  # shown when focused, not left off-screen
    page.keyboard.press("Enter")
    expect(page.get_by_role("main")).to_be_focused()


def test_slash_focuses_the_filter_box(tabs: Tabs) -> None:
    page = tabs.visit("models")
    page.get_by_role("heading", level=1).click()  # focus on the page body, not a field
    page.keyboard.press("/")

    box = page.get_by_label("Filter by name or description")
    expect(box).to_be_focused()
    expect(box).to_have_value("")  # the "/" itself is not typed into it
