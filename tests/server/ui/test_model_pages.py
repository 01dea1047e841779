"""The model and version pages: what they show, paging, metric and chart choices, alias history, errors, roles."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from html import unescape
from pathlib import Path

import httpx
import pytest

from factories import TRAINED, metadata
from modelreg import MemoryRegistry, ModelRegistry, acting_as, open_registry
from modelreg.server.app import create_app
from modelreg.server.auth import Auth, Role, Token, hash_token
from modelreg.server.ui.model_pages import ALIAS_MOVES_SHOWN, alias_moves, where_quote
from modelreg.server.ui.render import format_when
from support.pagekit import HTML, get_page, get_pages, list_items, table_rows
from support.serverkit import HAS_SQLITE, TOKENS

HOSTILE = "<script>alert(1)</script>"


def _registry(count: int = 3, **fields: object) -> MemoryRegistry:
    """A model ``m`` with versions 1.0.0 .. 1.{count-1}.0, each with top1/top5 and a training date a day apart."""
    reg = MemoryRegistry()
    for i in range(count):
        values = {"training_date": TRAINED + timedelta(days=i), "artifact_path": f"s3://m/1.{i}.0",
                  "performance_metrics": {"top1": 0.7 + i / 1000, "top5": 0.9}, **fields}
        reg.register_model("m", f"1.{i}.0", metadata(**values))
    return reg


def _version_column(html: str) -> list[str]:
    """The versions of the page's version table, in the order shown."""
    return re.findall(r'<th scope="row"><a class="mono" href="/models/m/versions/[^"]+">([^<]+)</a></th>', html)


def test_model_page_shows_description_paragraphs_tags_facts_and_aliases() -> None:
    reg = _registry()
    reg.annotate_model("m", description="First paragraph.\n\nSecond <b>one</b>.", set_tags={"team": "vision"})
    reg.set_alias("m", "production", "1.1.0")

    page = get_page(reg, "/models/m")

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<h1>m</h1>" in page.text and page.text.count("<h1") == 1
    assert "<p>First paragraph.</p><p>Second &lt;b&gt;one&lt;/b&gt;.</p>" in page.text
    assert '<span class="chip tag">team = vision</span>' in page.text
    assert "<dt>Versions</dt><dd>3</dd>" in page.text
    alias = '<span class="chip">production</span> → <a class="mono" href="/models/m/versions/1.1.0">1.1.0</a>'
    assert alias in page.text


def test_versions_are_listed_newest_first_in_pages_of_100_and_a_page_past_the_end_is_404() -> None:
    reg = MemoryRegistry()
    versions = [f"{major}.{minor}.0" for major in range(1, 4) for minor in range(84)]  # 252, not in text order
    for version in versions:
        reg.register_model("m", version, metadata())

    first, third, past = get_pages(reg, "/models/m", "/models/m?page=3", "/models/m?page=4")

    newest_first = versions[::-1]
    assert _version_column(first.text) == newest_first[:100]
    assert _version_column(third.text) == newest_first[200:]
    assert "Page 1 of 3 · 252 in all" in first.text and 'href="/models/m?page=2"' in first.text
    assert past.status_code == 404 and "page 4 is past the end: there are 3 pages" in past.text


def test_each_version_row_has_a_compare_checkbox_aliases_dates_and_who_registered_it() -> None:
    reg = _registry(2)
    with acting_as("ci-bot"):
        reg.register_model("m", "2.0.0", metadata(training_date=TRAINED))
    reg.set_alias("m", "staging", "2.0.0")

    page = get_page(reg, "/models/m")

    assert '<form method="get" action="/models/m/compare"' in page.text
    assert '<input type="checkbox" name="v" value="2.0.0" id="pick-1" aria-label="Compare 2.0.0">' in page.text
    row = next(row for row in table_rows(page.text) if row.cells[1:2] == ["2.0.0"])
    registered = reg.search("version = '2.0.0'", name="m").items[0].registered_at
    assert row.cells[2] == "staging"
    assert row.cells[3] == format_when(TRAINED)
    assert row.cells[4] == f"{format_when(registered)} by ci-bot"
    assert "Compare selected" in page.text


def test_key_metrics_default_to_the_names_most_versions_have_and_follow_the_metrics_parameter() -> None:
    reg = MemoryRegistry()
    reg.register_model("m", "1.0.0", metadata(performance_metrics={"b": 1.0, "a": 2.0, "rare": 3.0}))
    reg.register_model("m", "1.1.0", metadata(performance_metrics={"b": 1.5, "a": 2.5, "z": 4.0}))
    reg.register_model("m", "1.2.0", metadata(performance_metrics={"b": 1.25, "z": 5.0, "y": 6.0}))

    default, chosen, unknown, too_many = get_pages(
        reg, "/models/m", "/models/m?metrics=rare,%20b", "/models/m?metrics=nope", "/models/m?metrics=a,b,y,z,rare")

    header = table_rows(default.text)[0].cells
    assert header[5:] == ["b", "a", "z", "rare"]  # 3 versions, then 2 (a before z by name), then 1 (rare before y)
    rows = table_rows(chosen.text)
    assert rows[0].cells[5:] == ["rare", "b"]
    assert rows[1].cells[1] == "1.2.0" and rows[1].cells[5:] == ["—", "1.25"]
    assert unknown.status_code == 400 and "no version of this model has the metric 'nope'" in unescape(unknown.text)
    assert "its metrics are a, b, rare, y, z" in unknown.text
    assert too_many.status_code == 400 and "choose at most 4 metrics, not 5" in too_many.text


def test_charts_default_to_the_first_two_key_metrics_mark_aliases_and_follow_the_chart_choice() -> None:
    reg = _registry(4, performance_metrics={"top1": 0.7, "top5": 0.9, "loss": 0.3})
    reg.set_alias("m", "production", "1.2.0")

    default, chosen = get_pages(reg, "/models/m", "/models/m?chart=loss")

    assert default.text.count("<svg") == 2
    titles = re.findall(r'<text class="chart-title"[^>]*>([^<]+)</text>', default.text)
    assert titles == ["loss", "top1"]  # key metrics: all three in every version, so by name
    assert "production" in re.search(r"<svg.*?</svg>", default.text, re.S).group(0)  # type: ignore[union-attr]
    assert re.findall(r'<text class="chart-title"[^>]*>([^<]+)</text>', chosen.text) == ["loss"]
    assert '<option value="loss" selected>loss</option>' in chosen.text
    assert '<option value="top1">top1</option>' in chosen.text
    assert '<label for="chart">Chart</label>' in chosen.text


def test_a_model_without_metrics_says_so_instead_of_charting() -> None:
    reg = MemoryRegistry()
    reg.register_model("m", "1.0.0", metadata(performance_metrics={}))

    page = get_page(reg, "/models/m")

    assert page.status_code == 200 and "<svg" not in page.text
    assert "No version of this model records a metric yet." in page.text


def test_alias_history_lines_say_set_moved_and_removed_newest_first() -> None:
    reg = _registry()
    with acting_as("ci"):
        reg.set_alias("m", "production", "1.0.0")
        reg.set_alias("m", "production", "1.2.0")
    reg.set_alias("m", "staging", "1.1.0")
    with acting_as("ops"):
        reg.remove_alias("m", "staging")
    at = [format_when(event.at) for event in reg.history("m", kinds=("alias_set", "alias_removed"))]

    page = get_page(reg, "/models/m")

    assert list_items(page.text, "moves") == [
        f"staging: 1.1.0 → removed by ops, {at[3]}",
        f"staging: set to 1.1.0, {at[2]}",
        f"production: 1.0.0 → 1.2.0 by ci, {at[1]}",
        f"production: set to 1.0.0 by ci, {at[0]}",
    ]


def test_alias_history_shows_the_newest_50_moves_and_says_how_many_more() -> None:
    reg = _registry(2)
    for i in range(ALIAS_MOVES_SHOWN + 7):
        reg.set_alias("m", "canary", f"1.{i % 2}.0")

    page = get_page(reg, "/models/m")

    lines = list_items(page.text, "moves")
    assert len(lines) == ALIAS_MOVES_SHOWN and lines[0].startswith("canary: 1.1.0 → 1.0.0,")
    assert "and 7 older moves not shown" in page.text


def test_alias_moves_replay_the_version_before_each_event() -> None:
    reg = _registry()
    reg.set_alias("m", "prod", "1.0.0")
    reg.remove_alias("m", "prod")
    reg.set_alias("m", "prod", "1.1.0")

    moves = alias_moves(reg.history("m"))  # registered events are skipped

    assert [(move.before, move.after) for move in moves] == [(None, "1.1.0"), ("1.0.0", None), (None, "1.0.0")]


def test_where_quote_escapes_quotes_and_backslashes() -> None:
    assert where_quote("a'b\\c") == "'a\\'b\\\\c'"


def test_hostile_descriptions_tags_and_hyperparameters_are_escaped_on_every_page() -> None:
    reg = _registry(2, tags={"team": HOSTILE}, description=HOSTILE,
                    hyperparameters={HOSTILE: HOSTILE, "nested": {"k": HOSTILE}})
    reg.annotate_model("m", description=HOSTILE, set_tags={"x": HOSTILE})

    pages = get_pages(reg, "/models/m", "/models/m/versions/1.0.0", "/models/m/compare?v=1.0.0&v=1.1.0")

    for page in pages:
        assert page.status_code == 200, page.text
        assert HOSTILE not in page.text and "<script>" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_version_page_shows_all_metadata_aliases_and_links() -> None:
    reg = _registry(3, hyperparameters={"lr": 0.01, "optimizer": {"name": "sgd", "momentum": 0.9}},
                    tags={"team": "vision"}, description="Trained on ImageNet.")
    reg.set_alias("m", "production", "1.1.0")
    reg.set_alias("m", "canary", "1.1.0")

    page = get_page(reg, "/models/m/versions/v1.1.0")

    text = page.text
    assert page.status_code == 200
    assert '<h1>m <span class="mono">1.1.0</span></h1>' in text
    assert ('<span class="copy-row"><code id="artifact">s3://m/1.1.0</code><button type="button" '
            'data-copy="s3://m/1.1.0"') in text
    pretty = ('<pre class="json">{\n  "lr": 0.01,\n  "optimizer": {\n    "momentum": 0.9,\n    "name": "sgd"\n  }\n}'
              '</pre>')
    assert pretty in unescape(text)
    assert "<p>Trained on ImageNet.</p>" in text
    assert '<span class="chip">canary</span> <span class="chip">production</span>' in text
    assert '<span class="chip tag">team = vision</span>' in text
    assert ["top1", "0.701"] in [row.cells for row in table_rows(text)]
    assert '<a href="/models/m">← All versions of m</a>' in text
    assert 'href="/models/m/versions/1.0.0">Previous: <span class="mono">1.0.0</span>' in text
    assert 'href="/models/m/compare?v=1.1.0&amp;v=1.0.0">Compare with previous</a>' in text
    assert 'href="/models/m/compare?v=1.1.0&amp;v=1.2.0">Compare with latest' in text


def test_version_history_lists_its_own_events_newest_first_with_what_an_annotation_changed() -> None:
    reg = _registry(2)
    with acting_as("ci"):
        reg.set_alias("m", "production", "1.1.0")
    reg.annotate("m", "1.1.0", description="now described", set_tags={"stage": "gold"}, remove_tags=["team"],
                 add_metrics={"f1": 0.5})
    reg.set_alias("m", "production", "1.0.0")
    reg.set_alias("m", "staging", "1.0.0")

    page = get_page(reg, "/models/m/versions/1.1.0")

    lines = [re.sub(r"^\S+ \S+ UTC ", "", line) for line in list_items(page.text, "moves")]
    assert lines == [
        "annotated: description changed; tags set stage=gold; tags removed team; metrics added f1=0.5",
        "alias production set to this version by ci",
        "registered",
    ]


@pytest.mark.parametrize(("path", "status", "detail"), [
    ("/models/nope", 404, "nope"),
    ("/models/m/versions/1.x", 422, "1.x"),
    ("/models/m/versions/9.9.9", 404, "9.9.9"),
    ("/models/nope/versions/1.0.0", 404, "nope"),
    ("/models/m?page=0", 400, "page must be a whole number"),
])
def test_bad_models_versions_and_pages_get_an_error_page_with_the_right_status(path: str, status: int,
                                                                               detail: str) -> None:
    page = get_page(_registry(), path)

    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert '<h1 id="error-title">' in page.text and detail in page.text and "Traceback" not in page.text


def _auth() -> Auth:
    return Auth([Token(name, Role[role.upper()], hash_token(secret)) for name, (role, secret) in TOKENS.items()])


def test_with_tokens_a_browser_not_signed_in_is_sent_to_login_and_a_read_token_sees_the_pages() -> None:
    reg = _registry()
    paths = ["/models/m", "/models/m/versions/1.0.0", "/models/m/compare?v=1.0.0&v=1.1.0"]

    anonymous = get_pages(reg, *paths, auth=_auth())
    reader = get_pages(reg, *paths, auth=_auth(), token=TOKENS["reader"][1])

    for path, page in zip(paths, anonymous, strict=True):
        assert page.status_code == 303
        assert page.headers["location"].startswith("/login?next=" + path.split("?")[0].replace("/", "%2F"))
    for page in reader:
        assert page.status_code == 200 and "reader · read" in page.text


@pytest.mark.skipif(not HAS_SQLITE, reason="the SQLite store is not installed")
def test_model_and_version_pages_over_a_sqlite_registry_read_history_from_the_store(tmp_path: Path) -> None:
    reg: ModelRegistry
    with open_registry(f"sqlite:///{tmp_path / 'r.db'}") as reg:
        for i in range(3):
            reg.register_model("m", f"1.{i}.0", metadata())
        with acting_as("ci"):
            reg.set_alias("m", "production", "1.0.0")
            reg.set_alias("m", "production", "1.2.0")

        model, version = get_pages(reg, "/models/m", "/models/m/versions/1.2.0")

    assert model.status_code == 200 and _version_column(model.text) == ["1.2.0", "1.1.0", "1.0.0"]
    assert [line.split(",")[0] for line in list_items(model.text, "moves")] == [
        "production: 1.0.0 → 1.2.0 by ci", "production: set to 1.0.0 by ci"]
    assert version.status_code == 200 and "alias production set to this version by ci" in version.text


def test_the_model_page_shows_a_metric_added_after_it_was_first_served_by_the_same_app() -> None:
    reg = _registry(2)

    async def run() -> tuple[str, str]:
        app = create_app(reg)
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
                before = await http.get("/models/m?chart=top1", headers=HTML)
                reg.annotate("m", "1.1.0", add_metrics={"f1": 0.5})
                after = await http.get("/models/m?chart=f1", headers=HTML)
                return before.text, after.text
        finally:
            app.events.close()

    before, after = asyncio.run(run())

    assert '<option value="f1"' not in before
    assert '<option value="f1" selected>f1</option>' in after
    assert re.findall(r'<text class="chart-title"[^>]*>([^<]+)</text>', after) == ["f1"]
