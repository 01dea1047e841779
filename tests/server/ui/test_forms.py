"""The write forms: confirmation first, then the write as the signed-in token; roles as in the API; CSRF and origin."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from factories import metadata
from modelreg import AliasPolicy, MemoryRegistry, ModelRegistry, open_registry
from modelreg.errors import MetadataError
from modelreg.server.auth import Role
from modelreg.server.ui.forms import parse_metric
from modelreg.server.ui.grants import api_role, write_role
from support.serverkit import HAS_SQLITE
from support.uiclient import UIClient, browsers, csrf_field, ui_auth

MODEL = "/models/resnet50"
ALIASES = "/models/resnet50/aliases"
ANNOTATE = "/models/resnet50/versions/1.4.2/annotate"
ANNOTATE_MODEL = "/models/resnet50/annotate"
UNREGISTER = "/models/resnet50/versions/1.4.2/unregister"
MOVE = {"alias": "production", "version": "1.4.2", "action": "set", "back": MODEL}


def seed(registry: ModelRegistry) -> ModelRegistry:
    """resnet50 1.3.0 and 1.4.2, production on 1.3.0."""
    for version in ("1.3.0", "1.4.2"):
        registry.register_model("resnet50", version, metadata())
    registry.set_alias("resnet50", "production", "1.3.0")
    return registry


@pytest.fixture
def registry() -> Iterator[ModelRegistry]:
    with MemoryRegistry() as reg:
        yield seed(reg)


@pytest.fixture
def browser(registry: ModelRegistry) -> Iterator[Callable[..., UIClient]]:
    """``browser(who)``: a client signed in as ``who`` (None: not signed in; open=True: a server with no tokens)."""
    with browsers(registry) as make:
        yield make


def changes(page: str) -> list[str]:
    """The confirmation page's list of what will change (HTML-unescaped)."""
    return [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", page)]


def alert(page: str) -> str:
    """The error message a page shows ('' when none)."""
    found = re.search(r'class="alert" role="alert">(.*?)</p>', page, re.DOTALL)
    return html.unescape(found[1]) if found else ""


# -- the alias form ------------------------------------------------------------------------------


def test_alias_move_shows_a_confirmation_then_writes_as_the_signed_in_admin(
    registry: ModelRegistry, browser: Callable[..., UIClient]
) -> None:
    ui = browser("boss")
    csrf = csrf_field(ui.get(MODEL).text)
    first = ui.post(ALIASES, {"csrf": csrf, **MOVE})
    assert first.status_code == 200
    assert changes(first.text) == ["Move production from 1.3.0 to 1.4.2"]
    assert ">Move production</button>" in first.text and 'name="confirm" value="yes"' in first.text
    assert registry.get_aliases("resnet50") == {"production": "1.3.0"}  # nothing written yet

    done = ui.post(ALIASES, {"csrf": csrf, **MOVE, "confirm": "yes"})
    assert done.status_code == 303
    assert done.headers["location"] == "/models/resnet50?notice=alias-moved"
    assert registry.get_aliases("resnet50") == {"production": "1.4.2"}
    last = registry.history("resnet50")[-1]
    assert (last.kind, last.alias, last.version, last.actor) == ("alias_set", "production", "1.4.2", "boss")
    after = ui.get(done.headers["location"]).text
    assert '<p class="notice" role="status">The alias was moved.</p>' in after


def test_alias_set_and_remove_say_exactly_what_changes(
    registry: ModelRegistry, browser: Callable[..., UIClient]
) -> None:
    ui = browser("boss")
    csrf = ui.csrf(MODEL)
    new = ui.post(ALIASES, {"csrf": csrf, "alias": "staging", "version": "v1.4.2", "action": "set"})
    assert changes(new.text) == ["Set staging to 1.4.2"]
    gone = ui.post(ALIASES, {"csrf": csrf, "alias": "production", "action": "remove"})
    assert changes(gone.text) == ["Remove production (now 1.3.0)"]
    assert registry.get_aliases("resnet50") == {"production": "1.3.0"}

    done = ui.post(ALIASES, {"csrf": csrf, "alias": "production", "action": "remove", "confirm": "yes"})
    assert done.status_code == 303 and done.headers["location"].endswith("notice=alias-removed")
    assert registry.get_aliases("resnet50") == {}
    ui.post(ALIASES, {"csrf": csrf, "alias": "staging", "version": "v1.4.2", "action": "set", "confirm": "yes",
                      "back": "/models/resnet50/versions/1.4.2"})
    assert registry.get_aliases("resnet50") == {"staging": "1.4.2"}


def test_the_version_page_points_an_alias_at_itself_and_returns_there(
    registry: ModelRegistry, browser: Callable[..., UIClient]
) -> None:
    ui = browser("boss")
    page = ui.get("/models/resnet50/versions/1.4.2").text
    assert ">Point alias at 1.4.2</button>" in page and 'name="version" value="1.4.2"' in page
    fields = {"csrf": csrf_field(page), "alias": "canary", "version": "1.4.2", "action": "set",
              "back": "/models/resnet50/versions/1.4.2", "confirm": "yes"}
    done = ui.post(ALIASES, fields)
    assert done.headers["location"] == "/models/resnet50/versions/1.4.2?notice=alias-set"
    assert registry.get_aliases("resnet50")["canary"] == "1.4.2"


@pytest.mark.parametrize(
    ("fields", "status", "says"),
    [
        ({"alias": "v1", "version": "1.4.2"}, 422, "invalid alias 'v1'"),
        ({"alias": "Production!", "version": "1.4.2"}, 422, "invalid alias"),
        ({"alias": "production", "version": "9.9.9"}, 404, "9.9.9"),
        ({"alias": "production", "version": "not-a-version"}, 422, "not-a-version"),
        ({"alias": "nope", "action": "remove"}, 404, "nope"),
        ({"alias": "production", "version": "1.4.2", "action": "promote"}, 422, "action must be 'set' or 'remove'"),
    ],
)
def test_bad_alias_input_shows_the_registrys_message_and_changes_nothing(
    registry: ModelRegistry, browser: Callable[..., UIClient], fields: dict[str, str], status: int, says: str
) -> None:
    ui = browser("boss")
    csrf = ui.csrf(MODEL)
    for confirm in ("", "yes"):
        response = ui.post(ALIASES, {"csrf": csrf, "action": "set", **fields, "confirm": confirm})
        assert response.status_code == status, response.text
        assert says in alert(response.text)
        assert "Traceback" not in response.text
    assert registry.get_aliases("resnet50") == {"production": "1.3.0"}
    assert len(registry.history("resnet50")) == 3


# -- who may write -------------------------------------------------------------------------------


def test_the_forms_take_their_roles_from_the_api_route_table() -> None:
    assert api_role("/api/v1/models/{name}/aliases/{alias}", "PUT") is Role.WRITE  # an alias's policy governs it
    assert write_role("set_alias") is Role.WRITE and write_role("remove_alias") is Role.WRITE
    assert write_role("annotate") is Role.WRITE and write_role("annotate_model") is Role.WRITE
    assert write_role("unregister") is Role.WRITE and write_role("force") is Role.ADMIN
    with pytest.raises(KeyError):
        api_role("/api/v1/models/{name}/aliases/{alias}", "POST")


def _form_actions(page: str) -> set[str]:
    return set(re.findall(r'<form method="post" action="([^"]+)"', page)) - {"/logout"}


def test_a_read_token_sees_no_form_and_its_forged_posts_are_refused(
    registry: ModelRegistry, browser: Callable[..., UIClient]
) -> None:
    ui = browser("reader")
    assert _form_actions(ui.get(MODEL).text) == set()
    assert _form_actions(ui.get("/models/resnet50/versions/1.4.2").text) == set()
    csrf = ui.csrf(MODEL)
    for path, fields in ((ALIASES, MOVE), (ANNOTATE, {"description": "x"}), (ANNOTATE_MODEL, {"description": "x"}),
                         (UNREGISTER, {})):
        for confirm in ("", "yes"):
            response = ui.post(path, {"csrf": csrf, **fields, "confirm": confirm})
            assert response.status_code == 403, path
            assert "needs the" in response.text and "reader" in response.text
    assert registry.get_aliases("resnet50") == {"production": "1.3.0"}
    assert registry.get_versions("resnet50") == ["1.3.0", "1.4.2"]
    assert registry.get_metadata("resnet50", "1.4.2").description == ""


def test_a_write_token_annotates_and_moves_an_alias_but_may_not_force(
    registry: ModelRegistry, browser: Callable[..., UIClient]
) -> None:
    ui = browser("writer")
    model_page = ui.get(MODEL).text
    assert _form_actions(model_page) == {ANNOTATE_MODEL, ALIASES}  # the alias form: the API needs write for it
    version_page = ui.get("/models/resnet50/versions/1.4.2").text
    assert _form_actions(version_page) == {ANNOTATE, UNREGISTER, ALIASES}
    assert 'name="force"' not in version_page  # force needs admin
    csrf = csrf_field(version_page)
    forced = ui.post(UNREGISTER, {"csrf": csrf, "force": "yes", "confirm": "yes"})
    assert forced.status_code == 403
    assert registry.has_version("resnet50", "1.4.2")
    moved = ui.post(ALIASES, {"csrf": csrf, **MOVE, "confirm": "yes"})
    assert moved.status_code == 303, moved.text
    assert registry.get_aliases("resnet50") == {"production": "1.4.2"}
    assert registry.history("resnet50")[-1].actor == "writer"

    done = ui.post(ANNOTATE, {"csrf": csrf, "tag_key": "stage", "tag_value": "qa", "confirm": "yes"})
    assert done.status_code == 303
    assert done.headers["location"] == "/models/resnet50/versions/1.4.2?notice=version-annotated"
    assert registry.get_metadata("resnet50", "1.4.2").tags == {"team": "vision", "stage": "qa"}
    assert registry.history("resnet50")[-1].actor == "writer"


@pytest.mark.parametrize(
    ("policy", "says"),
    [
        (AliasPolicy(approvals=2), "needs 2 approval(s); request a promotion instead"),
        (AliasPolicy(require=["metrics.top1 >= 0.99"]), "requires metrics.top1 >= 0.99 (metrics.top1 is"),
    ],
)
def test_an_alias_form_the_policy_refuses_shows_its_message_on_a_409_page(
    registry: ModelRegistry, browser: Callable[..., UIClient], policy: AliasPolicy, says: str
) -> None:
    registry.set_alias_policy("resnet50", "production", policy)
    before = registry.history("resnet50")
    ui = browser("writer")
    refused = ui.post(ALIASES, {"csrf": ui.csrf(MODEL), **MOVE, "confirm": "yes"})
    assert refused.status_code == 409, refused.text
    assert says in alert(refused.text) and "Traceback" not in refused.text
    assert registry.get_aliases("resnet50") == {"production": "1.3.0"}
    assert registry.history("resnet50") == before


def test_an_admin_sees_every_form_and_the_force_box(browser: Callable[..., UIClient]) -> None:
    ui = browser("boss")
    assert _form_actions(ui.get(MODEL).text) == {ALIASES, ANNOTATE_MODEL}
    version_page = ui.get("/models/resnet50/versions/1.4.2").text
    assert _form_actions(version_page) == {ALIASES, ANNOTATE, UNREGISTER}
    assert 'name="force" type="checkbox" value="yes"' in version_page


def test_an_open_server_shows_the_forms_to_everyone_and_records_anonymous(
    registry: ModelRegistry, browser: Callable[..., UIClient]
) -> None:
    ui = browser(open=True)
    page = ui.get(MODEL).text
    assert _form_actions(page) == {ALIASES, ANNOTATE_MODEL}
    done = ui.post(ALIASES, {"csrf": csrf_field(page), **MOVE, "confirm": "yes"})
    assert done.status_code == 303
    assert registry.get_aliases("resnet50") == {"production": "1.4.2"}
    assert registry.history("resnet50")[-1].actor == "anonymous"


def test_a_visitor_who_has_not_signed_in_is_told_to(registry: ModelRegistry, browser: Callable[..., UIClient]) -> None:
    ui = browser()
    csrf = csrf_field(ui.get("/login").text)
    response = ui.post(ALIASES, {"csrf": csrf, **MOVE, "confirm": "yes"})
    assert response.status_code == 401
    assert registry.get_aliases("resnet50") == {"production": "1.3.0"}


# -- CSRF and origin -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [ALIASES, ANNOTATE, ANNOTATE_MODEL, UNREGISTER])
def test_a_form_without_the_right_csrf_field_or_from_another_origin_is_refused(
    registry: ModelRegistry, browser: Callable[..., UIClient], path: str
) -> None:
    ui = browser("boss")
    fields = {ALIASES: MOVE, ANNOTATE: {"description": "x"}, ANNOTATE_MODEL: {"description": "x"},
              UNREGISTER: {}}[path]
    good = ui.csrf(MODEL)
    for csrf in ({}, {"csrf": ""}, {"csrf": good[:-1] + ("0" if good[-1] != "0" else "1")}):
        response = ui.post(path, {**csrf, **fields, "confirm": "yes"})
        assert response.status_code == 403
        assert "CSRF" in response.text
    other = browser("boss")  # another browser's field does not fit this browser's cookie
    assert ui.post(path, {"csrf": other.csrf(MODEL), **fields, "confirm": "yes"}).status_code == 403
    cross = ui.post(path, {"csrf": good, **fields, "confirm": "yes"}, headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403  # the right field, from another site
    assert registry.get_aliases("resnet50") == {"production": "1.3.0"}
    assert registry.get_versions("resnet50") == ["1.3.0", "1.4.2"]
    assert registry.get_metadata("resnet50", "1.4.2").description == ""
    assert registry.get_model("resnet50").description == ""


def test_a_form_posted_from_another_site_is_refused(registry: ModelRegistry, browser: Callable[..., UIClient]) -> None:
    ui = browser("boss")
    csrf = ui.csrf(MODEL)
    fields = {"csrf": csrf, **MOVE, "confirm": "yes"}
    assert ui.post(ALIASES, fields, headers={"Origin": "http://evil.example"}).status_code == 403
    assert ui.post(ALIASES, fields, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert registry.get_aliases("resnet50") == {"production": "1.3.0"}
    assert ui.post(ALIASES, fields, headers={"Origin": "http://t"}).status_code == 303  # its own origin is fine


# -- annotate ------------------------------------------------------------------------------------


def test_annotating_a_version_confirms_each_change_then_stores_the_values_exactly(
    registry: ModelRegistry, browser: Callable[..., UIClient]
) -> None:
    ui = browser("writer")
    csrf = ui.csrf(MODEL)
    fields = {"csrf": csrf, "description": "first line\r\n  second line ", "tag_key": "note ", "tag_value": " a=b ",
              "remove_tag": "team", "metric_name": "top5@224", "metric_value": "1.5e-3"}
    first = ui.post(ANNOTATE, fields)
    assert first.status_code == 200
    assert changes(first.text) == [
        "Change the description from '' to 'first line\\n  second line '",
        "Set tag 'note ' to ' a=b '",
        "Remove tag 'team' (now 'vision')",
        "Add metric 'top5@224' = 0.0015",
    ]
    before = registry.get_metadata("resnet50", "1.4.2")
    assert (before.description, dict(before.tags), len(before.performance_metrics)) == ("", {"team": "vision"}, 2)
    assert ui.post(ANNOTATE, {**fields, "confirm": "yes"}).status_code == 303
    meta = registry.get_metadata("resnet50", "1.4.2")
    assert meta.description == "first line\n  second line "  # CRLF from the browser back to LF; nothing trimmed
    assert meta.tags == {"note ": " a=b "}
    assert meta.performance_metrics["top5@224"] == 0.0015


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"metric_name": "top1", "metric_value": "0.9"}, "is already recorded as 0.761"),
        ({"metric_name": "top9", "metric_value": "nan"}, "must be a number such as 0.761"),
        ({"metric_name": "top9", "metric_value": "1_000"}, "must be a number"),
        ({"metric_name": "top9", "metric_value": ""}, "must be a number"),
        ({"metric_value": "0.5"}, "give the metric's name"),
        ({"tag_value": "qa"}, "give the tag's key"),
        ({"description": ""}, "nothing changes"),
        ({"tag_key": "x" * 129, "tag_value": "v"}, "tag key"),
    ],
)
def test_bad_annotations_show_the_registrys_message_and_change_nothing(
    registry: ModelRegistry, browser: Callable[..., UIClient], fields: dict[str, str], says: str
) -> None:
    ui = browser("writer")
    csrf = ui.csrf(MODEL)
    before = registry.get_metadata("resnet50", "1.4.2")
    for confirm in ("", "yes"):
        response = ui.post(ANNOTATE, {"csrf": csrf, **fields, "confirm": confirm})
        assert response.status_code == 422, response.text
        assert says in alert(response.text)
        assert ">Save annotations</button>" in response.text  # the form again, to correct it
    assert registry.get_metadata("resnet50", "1.4.2") == before


def test_annotating_an_unknown_version_is_a_404_page(browser: Callable[..., UIClient]) -> None:
    ui = browser("writer")
    response = ui.post("/models/resnet50/versions/7.0.0/annotate", {"csrf": ui.csrf(MODEL), "description": "x"})
    assert response.status_code == 404 and "7.0.0" in alert(response.text)


def test_annotating_the_model_record(registry: ModelRegistry, browser: Callable[..., UIClient]) -> None:
    ui = browser("writer")
    page = ui.get(MODEL).text
    fields = {"csrf": csrf_field(page), "description": "Image classifier", "tag_key": "owner", "tag_value": "cv"}
    assert changes(ui.post(ANNOTATE_MODEL, fields).text) == [
        "Change the description from '' to 'Image classifier'", "Set tag 'owner' to 'cv'"]
    done = ui.post(ANNOTATE_MODEL, {**fields, "confirm": "yes"})
    assert done.headers["location"] == "/models/resnet50?notice=model-annotated"
    info = registry.get_model("resnet50")
    assert (info.description, dict(info.tags)) == ("Image classifier", {"owner": "cv"})
    assert "metric_name" not in page  # a model has no metrics to add


# -- unregister ----------------------------------------------------------------------------------


def test_unregistering_confirms_then_goes_to_the_model_page(
    registry: ModelRegistry, browser: Callable[..., UIClient]
) -> None:
    ui = browser("writer")
    csrf = ui.csrf(MODEL)
    first = ui.post(UNREGISTER, {"csrf": csrf})
    assert changes(first.text)[0].startswith("Unregister resnet50 1.4.2")
    assert ">Unregister 1.4.2</button>" in first.text
    assert registry.has_version("resnet50", "1.4.2")
    done = ui.post(UNREGISTER, {"csrf": csrf, "confirm": "yes"})
    assert done.status_code == 303 and done.headers["location"] == "/models/resnet50?notice=unregistered"
    assert registry.get_versions("resnet50") == ["1.3.0"]


def test_unregistering_an_aliased_version_needs_force_which_needs_admin(
    registry: ModelRegistry, browser: Callable[..., UIClient]
) -> None:
    writer = browser("writer")
    csrf = writer.csrf(MODEL)
    path = "/models/resnet50/versions/1.3.0/unregister"
    warned = writer.post(path, {"csrf": csrf})
    assert "production points at it" in changes(warned.text)[1]
    refused = writer.post(path, {"csrf": csrf, "confirm": "yes"})
    assert refused.status_code == 409 and "production" in alert(refused.text)
    assert registry.has_version("resnet50", "1.3.0")

    boss = browser("boss")
    csrf = boss.csrf(MODEL)
    assert "and remove the alias production" in changes(boss.post(path, {"csrf": csrf, "force": "yes"}).text)[1]
    done = boss.post(path, {"csrf": csrf, "force": "yes", "confirm": "yes"})
    assert done.status_code == 303
    assert registry.get_versions("resnet50") == ["1.4.2"] and registry.get_aliases("resnet50") == {}


def test_unregistering_the_last_version_goes_to_the_models_page(
    registry: ModelRegistry, browser: Callable[..., UIClient]
) -> None:
    registry.remove_alias("resnet50", "production")
    registry.unregister_model("resnet50", "1.3.0")
    ui = browser("writer")
    done = ui.post(UNREGISTER, {"csrf": ui.csrf("/"), "confirm": "yes"})
    assert done.status_code == 303 and done.headers["location"] == "/?notice=unregistered"


# -- notices and the return path -----------------------------------------------------------------


def test_a_notice_is_a_fixed_text_chosen_by_code_never_words_from_the_url(browser: Callable[..., UIClient]) -> None:
    ui = browser("reader")
    assert 'class="notice"' not in ui.get(MODEL + "?notice=%3Cb%3Ehacked%3C%2Fb%3E").text
    assert "hacked" not in ui.get(MODEL + "?notice=hacked").text
    assert "The version was unregistered." in ui.get(MODEL + "?notice=unregistered").text


def test_the_return_path_stays_inside_the_app(registry: ModelRegistry, browser: Callable[..., UIClient]) -> None:
    ui = browser("boss")
    done = ui.post(ALIASES, {"csrf": ui.csrf(MODEL), **MOVE, "back": "//evil.example/x", "confirm": "yes"})
    assert done.headers["location"] == "/?notice=alias-moved"


def test_form_values_are_escaped_on_the_confirmation_page(browser: Callable[..., UIClient]) -> None:
    ui = browser("writer")
    response = ui.post(ANNOTATE, {"csrf": ui.csrf(MODEL), "description": '"><script>alert(1)</script>'})
    assert response.status_code == 200
    assert "<script>alert" not in response.text
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in response.text


def test_parse_metric_takes_decimal_numbers_only() -> None:
    assert parse_metric("top1", "0.761") == {"top1": 0.761}
    assert parse_metric("n", "-12") == {"n": -12.0} and parse_metric("", "") == {}
    for text in ("inf", "1e", " 1", "1 ", "0x10", "+1"):
        with pytest.raises(MetadataError):
            parse_metric("top1", text)


# -- one real SQLite file ------------------------------------------------------------------------


@pytest.mark.skipif(not HAS_SQLITE, reason="needs modelreg.stores.sqlite")
def test_a_confirmed_move_is_durable_in_sqlite_with_its_actor(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'reg.db'}"
    with open_registry(url) as registry:
        seed(registry)
        ui = UIClient(registry, ui_auth())
        try:
            assert ui.sign_in("boss").status_code == 303
            csrf = ui.csrf(MODEL)
            assert ui.post(ALIASES, {"csrf": csrf, **MOVE}).status_code == 200
            assert ui.post(ALIASES, {"csrf": csrf, **MOVE, "confirm": "yes"}).status_code == 303
        finally:
            ui.close()
    with open_registry(url) as again:
        assert again.get_aliases("resnet50") == {"production": "1.4.2"}
        assert again.history("resnet50")[-1].actor == "boss"
