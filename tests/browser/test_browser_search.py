"""The search page in a real browser: a wrong query shows its error at its column, a right one a table to sort."""

from __future__ import annotations

import re
from typing import Any

import pytest

from support.browserkit import RESNET_VERSIONS, Tabs, playwright_expect, resnet_metadata

expect = playwright_expect()
pytestmark = pytest.mark.browser

GOOD = "name = 'resnet50' and metrics.top1 >= 0.76"


def _search(tabs: Tabs, where: str) -> Any:
    page = tabs.open("/search", who="reader")
    page.get_by_label("Query (where)").fill(where)
    page.get_by_role("button", name="Search").click()
    return page


def _top1(version: str) -> float:
    return resnet_metadata(version).performance_metrics["top1"]


def test_a_wrong_query_shows_the_error_at_its_column(tabs: Tabs) -> None:
    page = _search(tabs, "metrics.top1 >= and")

    error = page.get_by_role("alert")
    expect(error).to_contain_text("expected a value after '>=' at column 17, found 'and'")
    expect(error).to_contain_text("column 17")
    marked = error.locator("mark")  # the query shown again, with the spot of the error marked
    expect(marked).to_have_text("a")
    before = marked.evaluate("m => { const r = new Range(); r.setStart(m.parentElement, 0); r.setEndBefore(m);"
                             " return r.toString(); }")
    assert before == "metrics.top1 >= ", before  # the mark is at column 17
    expect(page.get_by_label("Query (where)")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Query (where)")).to_have_value("metrics.top1 >= and")  # kept to be fixed
    expect(page.get_by_role("table")).to_have_count(0)


def test_a_good_query_lists_the_matching_versions_with_the_queried_metric_as_a_column(tabs: Tabs) -> None:
    page = _search(tabs, GOOD)

    wanted = [v for v in RESNET_VERSIONS if _top1(v) >= 0.76]
    expect(page.get_by_text(f"{len(wanted)} versions matched")).to_be_visible()
    table = page.get_by_role("table")
    expect(table.get_by_role("columnheader", name="top1")).to_be_visible()
    expect(table.get_by_role("rowheader")).to_have_text(wanted)  # default order: name, then version


def test_clicking_a_metric_column_orders_by_it_and_clicking_again_reverses(tabs: Tabs) -> None:
    page = _search(tabs, GOOD)
    wanted = sorted((v for v in RESNET_VERSIONS if _top1(v) >= 0.76), key=_top1)
    header = page.get_by_role("columnheader", name="top1")

    header.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"order_by=metrics\.top1"))
    first = page.get_by_role("columnheader", name="top1")
    direction = first.get_attribute("aria-sort")
    assert direction in ("ascending", "descending")
    expect(page.get_by_role("table").get_by_role("rowheader")).to_have_text(
        wanted if direction == "ascending" else wanted[::-1])

    first.get_by_role("link").click()
    again = page.get_by_role("columnheader", name="top1")
    expect(again).to_have_attribute("aria-sort", "descending" if direction == "ascending" else "ascending")
    expect(page.get_by_role("table").get_by_role("rowheader")).to_have_text(
        wanted[::-1] if direction == "ascending" else wanted)


def test_slash_focuses_the_search_box(tabs: Tabs) -> None:
    page = tabs.open("/search", who="reader")
    page.get_by_role("heading", level=1).click()
    page.keyboard.press("/")

    expect(page.get_by_label("Query (where)")).to_be_focused()
