"""Signing in and out: the token cookie's attributes, bad tokens, safe redirects, revocation, and the CSRF field."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from factories import metadata
from modelreg import MemoryRegistry, ModelRegistry
from modelreg.server import create_app
from modelreg.server.auth import Auth
from modelreg.server.ui.pages import safe_next
from support.serverkit import TOKENS
from support.uiclient import UIClient, csrf_field, ui_auth


@pytest.fixture
def registry() -> Iterator[ModelRegistry]:
    with MemoryRegistry() as reg:
        reg.register_model("resnet50", "1.0.0", metadata())
        yield reg


@pytest.fixture
def auth() -> Auth:
    return ui_auth()


@pytest.fixture
def ui(registry: ModelRegistry, auth: Auth) -> Iterator[UIClient]:
    client = UIClient(registry, auth)
    yield client
    client.close()


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Each Set-Cookie header by cookie name."""
    return {line.split("=", 1)[0]: line for line in response.headers.get_list("set-cookie")}


def login(ui: UIClient, token: str, next: str = "/") -> httpx.Response:
    return ui.post("/login", {"csrf": csrf_field(ui.get("/login").text), "token": token, "next": next})


def test_a_good_token_signs_in_with_an_httponly_strict_cookie(ui: UIClient) -> None:
    response = login(ui, TOKENS["reader"][1], "/models/resnet50")
    assert response.status_code == 303 and response.headers["location"] == "/models/resnet50"
    cookie = set_cookies(response)["modelreg_token"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http on loopback
    assert TOKENS["reader"][1] not in cookie  # packed, not the raw secret text
    page = ui.get("/").text
    assert "reader · read" in page and ">Sign out</button>" in page


def test_over_https_the_cookies_are_secure(registry: ModelRegistry, auth: Auth) -> None:
    async def go() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=create_app(registry, auth=auth))
        async with httpx.AsyncClient(transport=transport, base_url="https://t") as http:
            form = await http.get("/login", headers={"accept": "text/html"})
            sent = await http.post("/login", data={"csrf": csrf_field(form.text), "token": TOKENS["boss"][1]})
            return form, sent

    form, sent = asyncio.run(go())
    assert "Secure" in set_cookies(form)["modelreg_csrf"]
    assert sent.status_code == 303
    cookie = set_cookies(sent)["modelreg_token"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie


@pytest.mark.parametrize("token", ["tok-wrong-0123456789", "", "   "])
def test_a_bad_token_gets_the_form_again_with_401_and_no_cookie(ui: UIClient, token: str) -> None:
    response = login(ui, token)
    assert response.status_code == 401
    assert 'role="alert"' in response.text and "modelreg_token" not in set_cookies(response)
    assert ui.get("/").status_code == 303  # still signed out


def test_sign_in_without_the_csrf_field_is_refused(ui: UIClient) -> None:
    ui.get("/login")
    response = ui.post("/login", {"token": TOKENS["boss"][1]})
    assert response.status_code == 403 and "modelreg_token" not in set_cookies(response)


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x",
                                    "/ok\nSet-Cookie: x=y"])
def test_next_never_leads_off_the_site(ui: UIClient, target: str) -> None:
    response = login(ui, TOKENS["reader"][1], target)
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert safe_next(target) == "/"
    assert safe_next("/search?where=x") == "/search?where=x"


def test_a_revoked_token_signs_its_browser_out(ui: UIClient, auth: Auth) -> None:
    assert login(ui, TOKENS["writer"][1]).status_code == 303
    assert ui.get("/").status_code == 200
    auth.tokens = tuple(token for token in auth.tokens if token.name != "writer")
    response = ui.get("/")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert "Max-Age=0" in set_cookies(response)["modelreg_token"]  # the dead cookie is cleared


def test_sign_out_clears_the_cookie_and_needs_the_csrf_field(ui: UIClient) -> None:
    login(ui, TOKENS["reader"][1])
    assert ui.post("/logout", {"csrf": ""}).status_code == 403  # a page of another site cannot sign you out
    page = ui.get("/").text
    response = ui.post("/logout", {"csrf": csrf_field(page)})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert "Max-Age=0" in set_cookies(response)["modelreg_token"]
    assert ui.get("/").status_code == 303


def test_the_csrf_field_belongs_to_one_sign_in(ui: UIClient) -> None:
    login(ui, TOKENS["reader"][1])
    as_reader = csrf_field(ui.get("/").text)
    login(ui, TOKENS["boss"][1])
    as_boss = csrf_field(ui.get("/").text)
    assert as_reader != as_boss  # bound to the token: a field seen while signed in as another is void
    assert ui.post("/logout", {"csrf": as_reader}).status_code == 403
    assert ui.post("/logout", {"csrf": as_boss}).status_code == 303


def test_an_open_server_sends_the_login_page_on_to_the_models(registry: ModelRegistry) -> None:
    ui = UIClient(registry)
    try:
        response = ui.get("/login")
        assert response.status_code == 303 and response.headers["location"] == "/"
        assert "open server" in ui.get("/").text
    finally:
        ui.close()
