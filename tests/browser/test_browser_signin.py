"""Signing in and out in a real browser, and the open server that needs no sign-in."""

from __future__ import annotations

import re

import pytest

from support.browserkit import Tabs, playwright_expect
from support.serverkit import TOKENS

expect = playwright_expect()
pytestmark = pytest.mark.browser


def test_a_page_sends_a_signed_out_browser_to_sign_in_and_back(tabs: Tabs) -> None:
    page = tabs.open("/models/resnet50", who=None)
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fmodels%2Fresnet50$"))

    page.get_by_label("Token").fill(TOKENS["reader"][1])
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(f"{tabs.url}/models/resnet50")
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("reader · read")


def test_a_wrong_token_is_refused_with_a_message_and_no_cookie(tabs: Tabs) -> None:
    page = tabs.open("/login", who=None)
    page.get_by_label("Token").fill("tok-not-a-real-token-000")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_contain_text("not valid")
    assert not [c for c in page.context.cookies() if c["name"] == "modelreg_token"]


def test_the_token_cookie_is_httponly_and_samesite_strict(tabs: Tabs) -> None:
    page = tabs.open("/", who="reader")

    cookie = next(c for c in page.context.cookies() if c["name"] == "modelreg_token")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("() => document.cookie").find("modelreg_token") == -1  # script cannot read it


def test_signing_out_forgets_the_token(tabs: Tabs) -> None:
    page = tabs.open("/", who=None)
    tabs.sign_in(page, "writer")
    page.get_by_role("button", name="Sign out").click()

    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))


def test_an_open_server_shows_every_page_without_signing_in(open_tabs: Tabs) -> None:
    page = open_tabs.open("/models/resnet50", who=None)

    expect(page.get_by_role("heading", level=1)).to_contain_text("resnet50")
    expect(page.get_by_text("open server")).to_be_visible()
    expect(page.get_by_role("link", name="Sign in")).to_have_count(0)
