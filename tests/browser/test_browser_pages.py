"""Every page opens in a real browser with the seeded data on it, and leaves a screenshot behind."""

from __future__ import annotations

import re

import pytest

from support.browserkit import PAGES, PHONE, RESNET_ALIASES, RESNET_VERSIONS, Tabs, playwright_expect, screenshot

expect = playwright_expect()
pytestmark = pytest.mark.browser


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_opens_with_one_heading_and_leaves_a_screenshot(tabs: Tabs, name: str) -> None:
    path, status = PAGES[name]
    page = tabs.open(None, who=None if name == "login" else "reader")
    response = page.goto(path)

    assert response is not None and response.status == status, f"{path}: {response and response.status}"
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    assert "Traceback" not in page.content()
    shot = screenshot(page, name)
    assert shot.stat().st_size > 5000  # a real rendering, not a blank page


def test_models_page_lists_every_model_with_its_latest_version_and_aliases(tabs: Tabs) -> None:
    page = tabs.visit("models")

    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="resnet50", exact=True))
    expect(row).to_contain_text("Image classifier behind the photo-tagging service.")
    expect(row).to_contain_text(str(len(RESNET_VERSIONS)))
    expect(row.get_by_role("link", name="1.4.2", exact=True)).to_be_visible()  # the latest release, not the rc
    for alias, version in RESNET_ALIASES.items():
        expect(row).to_contain_text(f"{alias} {version}")
    for model in ("bert-base", "distilbert-base", "whisper-small", "yolo-v8", "mobilenet-v3"):
        expect(page.get_by_role("link", name=model, exact=True)).to_be_visible()


def test_model_page_shows_versions_chart_and_alias_history(tabs: Tabs) -> None:
    page = tabs.visit("model")

    expect(page.get_by_role("heading", level=1)).to_contain_text("resnet50")
    expect(page.get_by_text("Image classifier behind the photo-tagging service.")).to_be_visible()
    for version in ("1.0.0", "1.4.2", "1.5.0-rc.1"):
        expect(page.get_by_role("link", name=version, exact=True).first).to_be_visible()
    chart = page.get_by_role("img", name=re.compile(r"across 12 versions")).first  # the server-drawn SVG chart
    expect(chart).to_be_visible()
    expect(chart).to_contain_text("production")  # the aliased versions are marked on it
    # The history names each alias move: "production: 1.3.1 → 1.4.1 by alice".
    expect(page.get_by_text(re.compile(r"1\.3\.1\s*→\s*1\.4\.1")).first).to_be_visible()
    expect(page.get_by_text("alice").first).to_be_visible()


def test_version_page_shows_metadata_hyperparameters_and_a_copy_button(tabs: Tabs) -> None:
    page = tabs.visit("version")

    expect(page.get_by_role("heading", level=1)).to_contain_text("1.4.1")
    expect(page.get_by_text("s3://models/resnet50/1.4.1/model.safetensors").first).to_be_visible()
    expect(page.get_by_role("button", name="Copy").first).to_be_visible()
    expect(page.get_by_text("adamw").first).to_be_visible()  # hyperparameters.optimizer.name, pretty-printed
    expect(page.get_by_text("top1_calibrated").first).to_be_visible()  # a metric added by annotation
    expect(page.get_by_text("production").first).to_be_visible()  # its alias


def test_an_unknown_model_gets_a_readable_404_page(tabs: Tabs) -> None:
    page = tabs.open(None)
    response = page.goto(PAGES["error"][0])

    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_contain_text("Not found")
    expect(page.get_by_role("main")).to_contain_text("no-such-model")
    expect(page.get_by_role("link", name="Models").first).to_be_visible()  # a way back


def test_model_page_at_phone_width_overflows_only_inside_scrolling_tables(tabs: Tabs) -> None:
    page = tabs.open(None, viewport=PHONE)
    response = page.goto(PAGES["model"][0])
    assert response is not None and response.ok

    sticking_out = page.evaluate(
        """() => [...document.body.querySelectorAll('*')]
                 .filter(e => !e.closest('.scroll') && e.getBoundingClientRect().right > innerWidth + 1)
                 .map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '')).slice(0, 10)"""
    )
    widths = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    screenshot(page, "model-phone")
    assert widths[0] <= widths[1], f"the page is {widths[0]} px wide on a {widths[1]} px screen: {sticking_out}"
    assert sticking_out == []
