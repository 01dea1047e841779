"""``modelreg search``, driven in-process with click's CliRunner against real SQLite files."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from click.testing import Result

from modelreg import QueryError, open_registry
from modelreg.cli._search import caret_lines, metric_keys
from support.clirun import json_out, ok, run


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A fresh SQLite registry file for each test."""
    return f"sqlite:///{tmp_path / 'reg.db'}"




def register(url: str, name: str, version: str, *extra: str) -> None:
    ok(url, "register", name, version, "--artifact", f"s3://models/{name}/{version}", *extra)


def rows(result: Result) -> list[list[str]]:
    return [line.split() for line in result.stdout.splitlines()]


@pytest.fixture
def zoo(url: str) -> str:
    """Four versions of two models with metrics, a parameter, a tag and an alias."""
    register(url, "resnet50", "1.0.0", "--metric", "top1=0.71", "--metric", "latency_ms=9", "--param", "opt=sgd")
    register(url, "resnet50", "2.0.0", "--metric", "top1=0.78", "--metric", "latency_ms=14", "--param", "opt=adam")
    register(url, "resnet50", "2.1.0", "--metric", "top1=0.80", "--param", "opt=adam", "--tag", "team=vision")
    register(url, "bert", "0.1.0", "--metric", "f1=0.9")
    ok(url, "alias", "set", "resnet50", "production", "2.0.0")
    return url


# -- the table ----------------------------------------------------------------------------------


def test_search_prints_name_version_aliases_and_the_metrics_the_query_and_order_name(zoo: str) -> None:
    result = ok(zoo, "search", "metrics.top1 >= 0.75", "--order-by", "metrics.latency_ms desc")
    assert rows(result) == [
        ["NAME", "VERSION", "ALIASES", "top1", "latency_ms"],
        ["resnet50", "2.0.0", "production", "0.78", "14.0"],
        ["resnet50", "2.1.0", "0.8", "-"],  # no latency: last, shown as '-'; no alias: an empty cell
    ]
    assert result.stderr == "2 versions matched\n"  # the count stays off stdout, which holds rows only


def test_search_without_a_query_lists_every_version_and_name_restricts_to_one_model(zoo: str) -> None:
    assert [row[:2] for row in rows(ok(zoo, "search"))[1:]] == [
        ["bert", "0.1.0"], ["resnet50", "1.0.0"], ["resnet50", "2.0.0"], ["resnet50", "2.1.0"],
    ]  # fmt: skip
    assert [row[:2] for row in rows(ok(zoo, "search", "--name", "bert"))] == [["NAME", "VERSION"], ["bert", "0.1.0"]]


def test_search_that_matches_nothing_prints_nothing_on_stdout(zoo: str) -> None:
    result = ok(zoo, "search", "metrics.top1 > 0.99")
    assert result.stdout == ""
    assert "no versions match" in result.stderr
    assert json_out(zoo, "search", "metrics.top1 > 0.99") == {"items": [], "next_cursor": None, "total": 0}


def test_a_partial_page_says_how_to_get_the_next_one(zoo: str) -> None:
    result = ok(zoo, "search", "--limit", "3")
    assert len(rows(result)) == 4
    cursor = json_out(zoo, "search", "--limit", "3")["next_cursor"]
    assert result.stderr == f"3 shown of 4 matched; next page: --cursor {cursor} (or --all for every page)\n"
    rest = ok(zoo, "search", "--limit", "3", "--cursor", cursor)
    assert [row[:2] for row in rows(rest)[1:]] == [["resnet50", "2.1.0"]]


def test_a_backticked_metric_key_gets_its_column(url: str) -> None:
    register(url, "m", "1.0.0", "--metric", "top-1@224=0.5")
    assert rows(ok(url, "search", "metrics.`top-1@224` > 0.1")) == [
        ["NAME", "VERSION", "ALIASES", "top-1@224"], ["m", "1.0.0", "0.5"],
    ]  # fmt: skip


def test_metric_columns_come_from_the_query_text_not_from_strings_or_other_fields() -> None:
    assert metric_keys("metrics.top1 > 0.5 and METRICS.`top-1@224` exists", "metrics.top1 desc, metrics.lat") == [
        "top1", "top-1@224", "lat",
    ]  # fmt: skip
    assert metric_keys("name = 'metrics.fake' or params.metrics.x = 1 or description = \"a \\\" metrics.no\"") == []
    assert metric_keys("metrics.`a\\`b` > 1") == ["a`b"]


# -- JSON and paging ----------------------------------------------------------------------------


def test_search_json_is_items_next_cursor_and_total_and_items_carry_aliases_and_registration(zoo: str) -> None:
    doc = json_out(zoo, "search", "params.opt = 'adam'", "--order-by", "metrics.top1 desc", "--limit", "1")
    assert set(doc) == {"items", "next_cursor", "total"}
    assert doc["total"] == 2 and isinstance(doc["next_cursor"], str)
    (item,) = doc["items"]
    assert (item["name"], item["version"], item["aliases"]) == ("resnet50", "2.1.0", [])
    assert item["metadata"]["performance_metrics"] == {"top1": 0.8}
    assert item["metadata"]["tags"] == {"team": "vision"}
    (registered,) = [e for e in json_out(zoo, "history", "resnet50") if e["kind"] == "registered"
                     and e["version"] == "2.1.0"]  # fmt: skip
    assert datetime.fromisoformat(item["registered_at"]) == datetime.fromisoformat(registered["at"])
    assert item["registered_by"] == registered.get("actor")
    second = json_out(zoo, "search", "params.opt = 'adam'", "--order-by", "metrics.top1 desc", "--limit", "1",
                      "--cursor", doc["next_cursor"])  # fmt: skip
    assert [(i["version"], i["aliases"]) for i in second["items"]] == [("2.0.0", ["production"])]
    assert second["next_cursor"] is None and second["total"] == 2


def test_all_walks_every_page_once_into_one_object(url: str) -> None:
    for patch in range(7):
        register(url, "m", f"1.0.{patch}", "--metric", f"loss={patch / 10}")
    doc = json_out(url, "search", "metrics.loss >= 0.1", "--order-by", "metrics.loss desc", "--limit", "2", "--all")
    assert [item["version"] for item in doc["items"]] == [f"1.0.{p}" for p in range(6, 0, -1)]
    assert (doc["next_cursor"], doc["total"]) == (None, 6)
    result = ok(url, "search", "metrics.loss >= 0.1", "--limit", "2", "--all")
    assert len(rows(result)) == 7 and result.stderr == "6 versions matched\n"


# -- errors -------------------------------------------------------------------------------------


def _library_error(url: str, where: str = "", order_by: str = "") -> QueryError:
    with open_registry(url) as registry, pytest.raises(QueryError) as caught:  # type: ignore[attr-defined]
        registry.search(where, order_by=order_by)
    return caught.value


@pytest.mark.parametrize("where", ["metrics.top1 >= ", "metrics.top1 > 0.5 and (name = 'x'", "version > 3"])
def test_a_bad_query_exits_5_with_the_error_then_a_caret_under_its_column(zoo: str, where: str) -> None:
    expected = _library_error(zoo, where)
    assert expected.position is not None
    result = run(zoo, "search", where)
    assert result.exit_code == 5 and result.stdout == ""
    error, query, caret = result.stderr.splitlines()
    assert error == f"error: {expected}"
    assert query == f"  {where}"
    assert caret == "  " + " " * (expected.position - 1) + "^"


def test_a_bad_order_puts_the_caret_under_the_order(zoo: str) -> None:
    expected = _library_error(zoo, order_by="metrics.top1 sideways")
    result = run(zoo, "search", "metrics.top1 > 0", "--order-by", "metrics.top1 sideways")
    assert result.exit_code == 5 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == f"error: {expected}"
    if expected.position is not None:
        assert lines[1:] == ["in --order-by:", *caret_lines("metrics.top1 sideways", expected.position)]


@pytest.mark.parametrize("limit", ["0", "1001"])
def test_a_limit_out_of_range_exits_5_naming_the_range(zoo: str, limit: str) -> None:
    result = run(zoo, "search", "--limit", limit)
    assert result.exit_code == 5 and result.stdout == ""
    assert result.stderr.startswith("error: ") and "1000" in result.stderr


def test_a_cursor_from_another_query_exits_5(zoo: str) -> None:
    cursor = json_out(zoo, "search", "--limit", "1")["next_cursor"]
    result = run(zoo, "search", "metrics.top1 > 0", "--limit", "1", "--cursor", cursor)
    assert result.exit_code == 5 and result.stdout == ""
    assert result.stderr.startswith("error: ")


def test_caret_lines_point_into_the_line_of_a_multi_line_query_and_keep_tabs() -> None:
    assert caret_lines("a = 1\n\tand b >", 14) == ["  \tand b >", "  \t      ^"]
    assert caret_lines("x >", 4) == ["  x >", "     ^"]  # just past the end: "expected a value"


# -- help ---------------------------------------------------------------------------------------


def test_search_help_shows_three_example_queries() -> None:
    text = ok(None, "search", "--help").stdout
    examples = [line.strip() for line in text.split("Example:", 1)[1].splitlines() if line.strip()]
    assert len([line for line in examples if line.startswith("modelreg search ")]) >= 3
    for option in ("--name", "--order-by", "--limit", "--cursor", "--all", "--json"):
        assert option in text
