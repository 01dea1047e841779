"""Defects a review of the web UI found, each pinned by the test that failed before its fix."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable, Iterator

import httpx
import pytest

from factories import metadata
from modelreg import MemoryRegistry, ModelRegistry
from modelreg.server.ui.compare import delta
from modelreg.server.ui.model_pages import VERSION_EVENTS_SHOWN
from modelreg.server.ui.session import Sessions, check_origin
from support.serverkit import TOKENS, StartServer
from support.uiclient import UIClient, browsers, csrf_field, ui_auth

MODEL = "/models/resnet50"
ANNOTATE = "/models/resnet50/versions/1.4.2/annotate"


@pytest.fixture
def registry() -> Iterator[ModelRegistry]:
    with MemoryRegistry() as reg:
        for version in ("1.3.0", "1.4.2"):
            reg.register_model("resnet50", version, metadata())
        reg.set_alias("resnet50", "production", "1.3.0")
        yield reg


@pytest.fixture
def browser(registry: ModelRegistry) -> Iterator[Callable[..., UIClient]]:
    with browsers(registry) as make:
        yield make


def _scope(**headers: str) -> dict[str, object]:
    return {"scheme": "http", "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]}


# -- signing in --------------------------------------------------------------------------------------------


def test_the_sign_in_cookie_never_holds_the_token(browser: Callable[..., UIClient]) -> None:
    client = browser()
    response = client.sign_in("boss")
    cookie = response.headers["set-cookie"]
    secret = TOKENS["boss"][1]
    packed = base64.urlsafe_b64encode(secret.encode()).decode().rstrip("=")
    assert secret not in cookie and packed not in cookie  # browsers send cookies to every port of the host
    assert client.get(MODEL).status_code == 200


def test_a_tampered_or_expired_sign_in_cookie_signs_nobody_in() -> None:
    sessions, auth = Sessions(b"k" * 32), ui_auth()
    boss = auth.named("boss")
    assert boss is not None
    value = sessions.issue(boss, now=1_000_000.0)
    assert sessions.check(auth, value, now=1_000_001.0) == boss
    name, expiry, mac = value.split(".")
    assert sessions.check(auth, f"{name}.{int(expiry) + 3600}.{mac}", now=1_000_001.0) is None  # longer life
    other = base64.urlsafe_b64encode(b"reader").decode().rstrip("=")
    assert sessions.check(auth, f"{other}.{expiry}.{mac}", now=1_000_001.0) is None  # another name
    assert sessions.check(auth, value, now=float(expiry)) is None  # expired
    assert Sessions(b"x" * 32).check(auth, value, now=1_000_001.0) is None  # another server's secret


def test_a_short_session_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 characters"):
        Sessions.from_environment({"MODELREG_SESSION_SECRET": "short"})
    assert Sessions.from_environment({"MODELREG_SESSION_SECRET": "s" * 32}).form_token("c", None) == \
        Sessions.from_environment({"MODELREG_SESSION_SECRET": "s" * 32}).form_token("c", None)


# -- origins ---------------------------------------------------------------------------------------------


def test_behind_a_tls_proxy_a_same_origin_form_is_accepted() -> None:
    # The proxy speaks HTTPS to the browser and plain HTTP to us (the scope's scheme).
    check_origin(_scope(host="registry.example", origin="https://registry.example"), https=True)
    check_origin(_scope(host="10.0.0.5:8600", origin="https://registry.example", sec_fetch_site="same-origin"),
                 https=True)  # a proxy that rewrites Host: the browser's own verdict decides


@pytest.mark.parametrize("headers", [{"origin": "null"}, {"origin": "https://evil.example"},
                                     {"sec_fetch_site": "cross-site", "origin": "http://t"}])
def test_forms_from_elsewhere_are_still_refused(headers: dict[str, str]) -> None:
    from modelreg.server.problems import HTTPProblem

    with pytest.raises(HTTPProblem):
        check_origin(_scope(host="t", **headers), https=False)


def test_a_server_without_tokens_answers_only_loopback_host_names(start_server: StartServer) -> None:
    server = start_server()
    port = server.url.rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost"):
        assert httpx.get(f"{server.url}/api/v1/models", headers={"Host": host}).status_code == 200
    rebound = httpx.get(f"{server.url}/api/v1/models", headers={"Host": f"evil.example:{port}"})
    assert rebound.status_code == 421 and "loopback names" in rebound.json()["detail"]
    page = httpx.get(f"{server.url}/", headers={"Host": "evil.example", "Accept": "text/html"})
    assert page.status_code == 421


# -- writes store what was typed, or refuse ---------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["0.1000000000000000000001", "1e-400", "12345678901234567891", "1e400"])
def test_a_metric_that_cannot_be_stored_exactly_is_refused_as_the_api_refuses_it(
    registry: ModelRegistry, browser: Callable[..., UIClient], typed: str
) -> None:
    client = browser("writer")
    form = {"csrf": client.csrf(MODEL), "metric_name": "m", "metric_value": typed, "confirm": "yes"}
    response = client.post(ANNOTATE, form)
    assert response.status_code == 422
    assert "m" not in registry.get_metadata("resnet50", "1.4.2").performance_metrics


def test_a_form_that_is_not_utf8_is_refused_and_changes_nothing(
    registry: ModelRegistry, browser: Callable[..., UIClient]
) -> None:
    client = browser("writer")
    csrf = client.csrf(MODEL)
    before = registry.get_metadata("resnet50", "1.4.2").description
    form = "application/x-www-form-urlencoded"
    for body, content_type, status in [
        (f"description=bad%FFutf8&confirm=yes&csrf={csrf}".encode(), form, 400),
        (b"description=\xff\xfe&confirm=yes&csrf=" + csrf.encode(), form, 400),
        (f"description=x&confirm=yes&csrf={csrf}".encode(), form + "; charset=iso-8859-1", 415),
    ]:
        response = client._runner.run(client.http.post(ANNOTATE, content=body, headers={
            "content-type": content_type, "accept": "text/html"}))
        assert response.status_code == status, response.text
    assert registry.get_metadata("resnet50", "1.4.2").description == before


def test_saving_a_tag_keeps_the_descriptions_own_line_breaks(
    registry: ModelRegistry, browser: Callable[..., UIClient]
) -> None:
    registry.annotate("resnet50", "1.4.2", description="a\r\nb")
    client = browser("writer")
    page = client.get("/models/resnet50/versions/1.4.2").text
    shown = re.search(r"<textarea[^>]*>(.*?)</textarea>", page, re.DOTALL)
    assert shown is not None
    # What a browser sends back: the textarea's value with its line breaks normalized, each sent as CRLF.
    typed = html.unescape(shown[1]).removeprefix("\n").replace("\r\n", "\n").replace("\r", "\n")
    form = {"csrf": csrf_field(page), "description": typed.replace("\n", "\r\n"),
            "tag_key": "owner", "tag_value": "ml-platform", "confirm": "yes"}
    assert client.post(ANNOTATE, form).status_code == 303
    stored = registry.get_metadata("resnet50", "1.4.2")
    assert stored.tags["owner"] == "ml-platform" and stored.description == "a\r\nb"


def test_an_alias_moved_after_the_confirmation_was_shown_is_confirmed_again(
    registry: ModelRegistry, browser: Callable[..., UIClient]
) -> None:
    client = browser("boss")
    form = {"csrf": client.csrf(MODEL), "alias": "production", "version": "1.4.2", "action": "set"}
    confirmation = client.post("/models/resnet50/aliases", form).text
    was = re.search(r'name="was" value="([^"]*)"', confirmation)
    assert was is not None and was[1] == "1.3.0"
    registry.set_alias("resnet50", "production", "1.4.2")  # someone else moves it meanwhile
    registry.set_alias("resnet50", "production", "1.3.0")
    registry.set_alias("resnet50", "staging", "1.3.0")
    registry.remove_alias("resnet50", "production")
    again = client.post("/models/resnet50/aliases", {**form, "was": was[1], "confirm": "yes"})
    assert again.status_code == 200 and "Set production to 1.4.2" in html.unescape(again.text)
    assert "production" not in registry.get_aliases("resnet50")  # not written on the stale confirmation


# -- bounded pages ----------------------------------------------------------------------------------------


def test_the_version_page_lists_only_the_newest_events(
    registry: ModelRegistry, browser: Callable[..., UIClient]
) -> None:
    for i in range(VERSION_EVENTS_SHOWN + 20):
        registry.annotate("resnet50", "1.4.2", set_tags={"n": str(i)})
    page = browser("reader").get("/models/resnet50/versions/1.4.2").text
    history = page.split("<h2>History</h2>", 1)[1]
    assert history.count("<li>") == VERSION_EVENTS_SHOWN
    assert "and 21 older events not shown" in history  # 120 annotations and the registration


def test_too_many_query_parameters_get_a_plain_400_page(browser: Callable[..., UIClient]) -> None:
    client = browser()
    query = "&".join(f"a{i}=1" for i in range(65))
    response = client.get(f"/login?{query}")
    assert response.status_code == 400 and "more than 64 query parameters" in response.text
    assert "could not be shown" not in response.text


def test_a_method_a_page_does_not_take_is_a_405_with_allow(browser: Callable[..., UIClient]) -> None:
    response = browser("reader")._runner.run(browser("reader").http.request(
        "OPTIONS", MODEL, headers={"accept": "text/html"}))
    assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD"


def test_a_delta_beyond_float_range_is_said_in_words() -> None:
    assert delta(1.7e308, -1.7e308) == ("beyond float range", "")
    assert delta(0.77, 0.75)[1] == "up"
