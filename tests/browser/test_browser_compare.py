"""Comparing versions in a real browser: tick two on the model page, see them side by side."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from support.browserkit import Tabs, playwright_expect, resnet_metadata

expect = playwright_expect()
pytestmark = pytest.mark.browser


def test_ticking_two_versions_on_the_model_page_compares_them(tabs: Tabs) -> None:
    page = tabs.open("/models/resnet50", who="reader")
    page.get_by_role("checkbox", name="Compare 1.3.1").check()
    page.get_by_role("checkbox", name="Compare 1.4.1").check()
    page.get_by_role("button", name="Compare selected").click()

    expect(page).to_have_url(re.compile(r"/models/resnet50/compare\?"))
    chosen = parse_qs(urlsplit(page.url).query)["v"]
    assert sorted(chosen) == ["1.3.1", "1.4.1"]
    baseline, other = chosen
    expect(page.get_by_role("heading", level=1)).to_have_text("Compare resnet50")
    table = page.get_by_role("table")
    for version in chosen:
        expect(table.get_by_role("columnheader", name=re.compile(re.escape(version)))).to_be_visible()
    # Differing hyperparameters are highlighted (and say so to a screen reader); equal ones are not.
    expect(table.get_by_role("rowheader", name="batch_size (differs)")).to_be_visible()
    expect(table.get_by_role("rowheader", name="optimizer.lr (differs)")).to_be_visible()
    expect(table.get_by_role("rowheader", name="optimizer.momentum", exact=True)).to_be_visible()
    # The metric delta against the baseline, with its direction.
    change = resnet_metadata(other).performance_metrics["top1"] - resnet_metadata(baseline).performance_metrics["top1"]
    top1 = table.get_by_role("row").filter(has=page.get_by_role("rowheader", name="top1 (differs)"))
    expect(top1).to_contain_text(f"{'▲ +' if change > 0 else '▼ −'}{abs(change):.3g}")


def test_comparing_a_single_version_is_a_readable_400_page(tabs: Tabs) -> None:
    page = tabs.open(None, who="reader")
    response = page.goto("/models/resnet50/compare?v=1.3.1")

    assert response is not None and response.status == 400
    expect(page.get_by_role("main")).to_contain_text("choose 2 to 8 versions")
