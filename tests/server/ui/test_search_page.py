"""The search page: metric columns from the query, sortable headers, cursor paging, errors shown at their column."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from factories import metadata
from modelreg import MemoryRegistry, ModelRegistry
from modelreg.server.ui.search_page import RESULTS_PER_PAGE, metric_columns, sort_field
from support.uiclient import UIClient, ui_auth


@pytest.fixture
def registry() -> Iterator[ModelRegistry]:
    with MemoryRegistry() as reg:
        for n, top1 in enumerate((0.70, 0.80, 0.75)):
            reg.register_model("resnet50", f"1.{n}.0", metadata(
                performance_metrics={"top1": top1, "latency_ms": 10.0 + n, "top-1@224": top1 - 0.1}))
        reg.register_model("bert", "2.0.0", metadata(performance_metrics={"f1": 0.9}))
        reg.set_alias("resnet50", "production", "1.1.0")
        yield reg


@pytest.fixture
def ui(registry: ModelRegistry) -> Iterator[UIClient]:
    client = UIClient(registry)
    yield client
    client.close()


def search(ui: UIClient, **query: str) -> tuple[int, str]:
    response = ui.get("/search?" + urlencode(query))
    return response.status_code, response.text


def headers(page: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r'<th scope="col"[^>]*>(.*?)</th>', page)]


def versions(page: str) -> list[str]:
    return re.findall(r'<a class="mono" href="/models/[^/]+/versions/[^"]+">([^<]+)</a>', page)


def query_of(link: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(html.unescape(link)).query)


def test_results_have_a_column_per_metric_the_query_and_the_order_name(ui: UIClient) -> None:
    status, page = search(ui, where="metrics.top1 >= 0.75 and metrics.`top-1@224` > 0", order_by="metrics.latency_ms")
    assert status == 200
    assert headers(page) == ["Model", "Version", "Aliases", "Trained", "Registered", "top1", "top-1@224", "latency_ms"]
    assert versions(page) == ["1.1.0", "1.2.0"]  # ordered by latency: 11 then 12
    assert "2 versions matched" in page
    assert '<span class="chip">production</span>' in page
    assert '<td class="num" title="0.8">0.8</td>' in page


def test_extra_columns_come_from_the_columns_parameter_and_quoted_text_names_no_metric(ui: UIClient) -> None:
    status, page = search(ui, where="name != 'metrics.top1'", columns="f1, latency_ms")
    assert status == 200
    assert headers(page)[5:] == ["f1", "latency_ms"]  # the string literal is not a field
    assert metric_columns("metrics.a > 1 or not metrics.b exists", "metrics.a desc, metrics.c", ["d", "a"]) == [
        "a", "b", "c", "d"]


def test_an_empty_query_lists_every_version_by_name_then_version(ui: UIClient) -> None:
    status, page = search(ui)
    assert status == 200 and "4 versions matched" in page
    assert versions(page) == ["2.0.0", "1.0.0", "1.1.0", "1.2.0"]
    assert 'aria-sort="ascending"><a class="sort"' in page  # the default order is by name


def test_clicking_a_metric_header_orders_by_it_and_clicking_again_reverses(ui: UIClient) -> None:
    _, page = search(ui, where="metrics.top1 > 0")
    link = re.search(r'<th scope="col" class="num"><a class="sort" href="([^"]+)">top1</a>', page)
    assert link is not None  # not the sorted column: no aria-sort
    assert query_of(link[1])["order_by"] == ["metrics.top1 desc"]
    _, down = search(ui, where="metrics.top1 > 0", order_by="metrics.top1 desc")
    assert versions(down) == ["1.1.0", "1.2.0", "1.0.0"]
    again = re.search(r'<th scope="col" class="num" aria-sort="descending"><a class="sort" href="([^"]+)">top1</a>',
                      down)
    assert again is not None and query_of(again[1])["order_by"] == ["metrics.top1 asc"]
    assert query_of(again[1])["where"] == ["metrics.top1 > 0"]  # the query is kept
    _, up = search(ui, where="metrics.top1 > 0", order_by="metrics.top1 asc")
    assert versions(up) == ["1.0.0", "1.2.0", "1.1.0"]
    assert 'aria-sort="ascending"><a class="sort"' in up


def test_a_metric_key_that_is_not_a_plain_name_is_ordered_in_backticks(ui: UIClient) -> None:
    assert sort_field("metrics", "top-1@224") == "metrics.`top-1@224`"
    assert sort_field("metrics", "a`b") == "metrics.`a\\`b`"
    _, page = search(ui, where="metrics.`top-1@224` > 0", order_by="metrics.`top-1@224` desc")
    assert versions(page) == ["1.1.0", "1.2.0", "1.0.0"]
    assert 'aria-sort="descending"><a class="sort"' in page


def test_the_version_header_toggles_between_ascending_and_descending(ui: UIClient) -> None:
    _, page = search(ui, order_by="version")
    link = re.search(r'aria-sort="ascending"><a class="sort" href="([^"]+)">Version', page)
    assert link is not None and query_of(link[1])["order_by"] == ["version desc"]


def test_results_are_paged_with_the_search_cursor(registry: ModelRegistry, ui: UIClient) -> None:
    for n in range(RESULTS_PER_PAGE + 7):
        registry.register_model("many", f"0.0.{n}", metadata())
    status, first = search(ui, name="many")
    assert status == 200 and f"{RESULTS_PER_PAGE + 7} versions matched" in first
    assert len(versions(first)) == RESULTS_PER_PAGE
    following = re.search(r'<a rel="next" href="([^"]+)">Next page', first)
    assert following is not None and query_of(following[1])["name"] == ["many"]
    second = ui.get(html.unescape(following[1])).text
    assert versions(second) == [f"0.0.{n}" for n in range(RESULTS_PER_PAGE, RESULTS_PER_PAGE + 7)]
    assert "Next page" not in second and "First page" in second


def caret(page: str) -> tuple[str, str]:
    """The echoed query line (as text) and the caret line under it."""
    found = re.search(r'<pre class="spot"><code>(.*?)</code></pre>', page, re.DOTALL)
    assert found is not None, page
    line, under = html.unescape(re.sub(r"</?mark[^>]*>", "", found[1])).split("\n")
    return line, under


def test_a_wrong_query_is_a_400_with_the_caret_under_the_column_at_fault(ui: UIClient) -> None:
    where = "metrics.top1 >= 0.7 and metrics.top1 = 'abc'"
    status, page = search(ui, where=where)
    assert status == 400
    assert "The query cannot be read" in page and "Traceback" not in page
    line, under = caret(page)
    assert line == where
    assert under.index("^") == where.index("'abc'")  # the literal that cannot be a number
    assert "column 40" in html.unescape(page)
    assert '<mark class="at">&#39;</mark>abc' in page
    assert 'aria-invalid="true"' in page and "metrics.top1 &gt;= 0.7" in page  # the query is kept in the box


def test_an_error_on_a_later_line_points_into_that_line(ui: UIClient) -> None:
    status, page = search(ui, where="metrics.top1 > 0\nand\tbogus = 1")
    assert status == 400
    line, under = caret(page)
    assert line == "and\tbogus = 1" and under == "   \t^"  # tabs kept so the caret lines up
    assert "line 2, column 5" in page


def test_an_error_at_the_end_of_the_query_marks_the_end(ui: UIClient) -> None:
    status, page = search(ui, where="metrics.top1 >=")
    assert status == 400
    line, under = caret(page)
    assert line == "metrics.top1 >= " and under == " " * 15 + "^"


def test_a_wrong_order_is_shown_in_the_order_box(ui: UIClient) -> None:
    status, page = search(ui, where="metrics.top1 > 0", order_by="metrics.top1 sideways")
    assert status == 400
    assert "In order by, line 1, column 14" in page
    line, under = caret(page)
    assert line == "metrics.top1 sideways" and under.index("^") == 13


def test_a_bad_cursor_is_a_400_without_a_spot(ui: UIClient) -> None:
    status, page = search(ui, cursor="garbage")
    assert status == 400 and "cursor" in page and '<pre class="spot">' not in page


def test_a_bad_model_name_is_shown_on_the_search_page_with_422(ui: UIClient) -> None:
    status, page = search(ui, where="metrics.top1 > 0", name="no such/model")
    assert status == 422 and "invalid model name" in page and "The search cannot be run" in page


def test_hostile_input_is_escaped_everywhere(ui: UIClient) -> None:
    evil = "<script>alert(1)</script>"
    status, page = search(ui, where=f"name = '{evil}'", order_by="name", columns=evil, name="resnet50")
    assert status == 200 and "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    status, page = search(ui, where=evil)
    assert status == 400 and "<script>alert" not in page


def test_the_examples_are_links_that_fill_in_the_query(ui: UIClient) -> None:
    _, page = search(ui)
    links = re.findall(r'<li><a href="(/search\?[^"]+)"><code>', page)
    assert len(links) >= 4
    for link in links:
        status, _ = search(ui, **{k: v[0] for k, v in query_of(link).items()})
        assert status == 200  # every example is a valid query


def test_with_tokens_the_search_page_needs_a_sign_in(registry: ModelRegistry) -> None:
    ui = UIClient(registry, ui_auth())
    try:
        assert ui.get("/search?where=x").status_code == 303
        ui.sign_in("reader")
        assert ui.get("/search?where=metrics.top1+%3E+0").status_code == 200
    finally:
        ui.close()
