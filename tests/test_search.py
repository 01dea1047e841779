"""The search engine over candidates: what each operator matches, ordering, limits and errors."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelreg import ModelMetadata, QueryError, SearchPage, VersionRecord
from modelreg._search import Candidate, run_search
from modelreg.semver import parse_version

BASE = datetime(2026, 1, 5, tzinfo=UTC)


def candidate(
    name: str,
    version: str,
    *,
    metrics: dict[str, float] | None = None,
    params: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    aliases: Sequence[str] = (),
    description: str = "",
    trained: datetime = BASE,
    registered: datetime = BASE,
    path: str = "s3://models/x",
) -> Candidate:
    """A candidate as a registry builds one: its record and its parsed version."""
    meta = ModelMetadata(
        training_date=trained,
        artifact_path=path,
        hyperparameters=params or {},
        performance_metrics=metrics or {},
        tags=tags or {},
        description=description,
        version=version,
    )
    record = VersionRecord(name, str(parse_version(version)), meta, tuple(sorted(aliases)), registered, "ci")
    return record, parse_version(version)


CANDIDATES = [
    candidate("resnet50", "1.0.0", metrics={"top1": 0.70, "latency_ms": 12.0}, params={"optimizer": "sgd", "lr": 0.1},
              tags={"team": "vision"}, trained=BASE, registered=BASE, path="s3://models/resnet50/1.0.0"),
    candidate("resnet50", "2.0.0", metrics={"top1": 0.76, "latency_ms": 14.0},
              params={"optimizer": "adam", "lr": 0.01, "opt": {"name": "adam", "beta": 0.9}},
              tags={"team": "vision", "wip": "yes"}, aliases=("production",), description="Fine-tuned on ImageNet",
              trained=BASE + timedelta(days=10), registered=BASE + timedelta(days=11)),
    candidate("resnet50", "2.1.0", metrics={"top1": 0.78, "latency_ms": 16.0}, params={"optimizer": "adam", "lr": 1},
              aliases=("canary", "staging"), trained=BASE + timedelta(days=20), registered=BASE + timedelta(days=21)),
    candidate("resnet50", "3.0.0-rc.1", metrics={"top1": 0.80}, params={"optimizer": "adam", "lr": True},
              trained=BASE + timedelta(days=30), registered=BASE + timedelta(days=31)),
    candidate("bert", "1.0.0+build.7", metrics={"f1": 0.9}, params={"optimizer": "adamw", "lr": "auto"},
              tags={"team": "nlp"}, description="fine-TUNED bert", registered=BASE + timedelta(days=2)),
]


def found(where: str, order_by: str = "", *, candidates: Sequence[Candidate] = CANDIDATES) -> list[str]:
    page = run_search(candidates, where, order_by=order_by, limit=100, cursor=None)
    return [f"{item.name}@{item.version}" for item in page.items]


def refused(where: str = "", order_by: str = "", *, limit: int = 10, cursor: str | None = None) -> QueryError:
    with pytest.raises(QueryError) as caught:
        run_search(CANDIDATES, where, order_by=order_by, limit=limit, cursor=cursor)
    return caught.value


def test_an_empty_where_matches_every_version_ordered_by_name_then_version_precedence() -> None:
    assert found("") == ["bert@1.0.0+build.7", "resnet50@1.0.0", "resnet50@2.0.0", "resnet50@2.1.0",
                         "resnet50@3.0.0-rc.1"]


def test_the_issues_example_query() -> None:
    where = "metrics.top1 >= 0.76 and params.optimizer = 'adam' and version satisfies '^2'"
    assert found(where, "metrics.top1 desc") == ["resnet50@2.1.0", "resnet50@2.0.0"]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("metrics.top1 = 0.76", ["resnet50@2.0.0"]),
        ("metrics.top1 != 0.76", ["resnet50@1.0.0", "resnet50@2.1.0", "resnet50@3.0.0-rc.1"]),
        ("metrics.top1 < 0.76", ["resnet50@1.0.0"]),
        ("metrics.top1 <= 0.76", ["resnet50@1.0.0", "resnet50@2.0.0"]),
        ("metrics.top1 > 0.78", ["resnet50@3.0.0-rc.1"]),
        ("metrics.latency_ms >= 14", ["resnet50@2.0.0", "resnet50@2.1.0"]),
        ("metrics.top1 in (0.7, 0.8)", ["resnet50@1.0.0", "resnet50@3.0.0-rc.1"]),
        ("metrics.latency_ms exists", ["resnet50@1.0.0", "resnet50@2.0.0", "resnet50@2.1.0"]),
    ],
)
def test_metrics_compare_as_numbers_and_a_missing_metric_never_matches(where: str, expected: list[str]) -> None:
    assert found(where) == expected


def test_not_of_a_comparison_on_a_missing_field_is_true() -> None:
    assert found("not metrics.latency_ms < 100") == ["bert@1.0.0+build.7", "resnet50@3.0.0-rc.1"]
    assert found("not metrics.latency_ms exists") == ["bert@1.0.0+build.7", "resnet50@3.0.0-rc.1"]


def test_params_compare_only_with_values_of_the_same_json_type() -> None:
    assert found("params.lr = 1") == ["resnet50@2.1.0"]  # not lr = true (a bool is not a number)
    assert found("params.lr = true") == ["resnet50@3.0.0-rc.1"]
    assert found("params.lr > 0.05") == ["resnet50@1.0.0", "resnet50@2.1.0"]
    assert found("params.lr != 1") == ["resnet50@1.0.0", "resnet50@2.0.0"]  # 'auto' and true are another type
    assert found("params.lr = 'auto'") == ["bert@1.0.0+build.7"]
    assert found("params.lr in (1, 'auto')") == ["bert@1.0.0+build.7", "resnet50@2.1.0"]
    assert found("params.lr in (true)") == ["resnet50@3.0.0-rc.1"]
    assert found("params.optimizer like 'adam%'") == [
        "bert@1.0.0+build.7", "resnet50@2.0.0", "resnet50@2.1.0", "resnet50@3.0.0-rc.1"]


def test_nested_params_are_reached_by_dots() -> None:
    assert found("params.opt.name = 'adam' and params.opt.beta < 1") == ["resnet50@2.0.0"]
    assert found("params.opt exists") == ["resnet50@2.0.0"]
    assert found("params.optimizer.name exists") == []  # a string has no keys


def test_versions_compare_by_semver_precedence_so_build_metadata_is_ignored() -> None:
    assert found("version = '1.0.0'") == ["bert@1.0.0+build.7", "resnet50@1.0.0"]
    assert found("version >= '2.0.0' and version < '3.0.0'") == ["resnet50@2.0.0", "resnet50@2.1.0",
                                                                 "resnet50@3.0.0-rc.1"]  # rc.1 < 3.0.0
    assert found("version > '2.1.0'") == ["resnet50@3.0.0-rc.1"]  # a pre-release of 3.0.0 is above 2.1.0
    assert found("version in ('2.1.0', '1.0.0+other')") == ["bert@1.0.0+build.7", "resnet50@1.0.0",
                                                           "resnet50@2.1.0"]


def test_satisfies_uses_the_range_grammar_and_its_prerelease_rule() -> None:
    assert found("version satisfies '>=2.0.0'") == ["resnet50@2.0.0", "resnet50@2.1.0"]
    assert found("version satisfies '^3.0.0-rc.0'") == ["resnet50@3.0.0-rc.1"]
    assert found("version satisfies '1.x || 2.1.x'") == ["bert@1.0.0+build.7", "resnet50@1.0.0",
                                                          "resnet50@2.1.0"]


def test_dates_compare_as_aware_datetimes_whatever_offset_the_query_writes() -> None:
    assert found("training_date >= '2026-01-25'") == ["resnet50@2.1.0", "resnet50@3.0.0-rc.1"]
    assert found("training_date = '2026-01-15T02:00:00+02:00'") == ["resnet50@2.0.0"]
    assert found("registered_at < '2026-01-07T00:00:01Z'") == ["bert@1.0.0+build.7", "resnet50@1.0.0"]


def test_aliases_match_the_version_they_point_at() -> None:
    assert found("alias = 'production'") == ["resnet50@2.0.0"]
    assert found("alias exists") == ["resnet50@2.0.0", "resnet50@2.1.0"]
    assert found("alias in ('staging', 'nope')") == ["resnet50@2.1.0"]
    assert found("alias like 'can%'") == ["resnet50@2.1.0"]
    assert found("alias != 'production'") == ["bert@1.0.0+build.7", "resnet50@1.0.0", "resnet50@2.1.0",
                                              "resnet50@3.0.0-rc.1"]


def test_strings_match_exactly_with_like_and_without_case_with_ilike() -> None:
    assert found("name = 'bert'") == ["bert@1.0.0+build.7"]
    assert found("description like '%tuned%'") == ["resnet50@2.0.0"]
    assert found("description ilike '%tuned%'") == ["bert@1.0.0+build.7", "resnet50@2.0.0"]
    assert found("name like 'r_snet__'") == ["resnet50@1.0.0", "resnet50@2.0.0", "resnet50@2.1.0",
                                             "resnet50@3.0.0-rc.1"]
    assert found("artifact_path like 's3://models/resnet50/%'") == ["resnet50@1.0.0"]
    assert found("tags.team in ('nlp')") == ["bert@1.0.0+build.7"]
    assert found("tags.wip exists and tags.team != 'nlp'") == ["resnet50@2.0.0"]
    assert found("tags.team != 'vision'") == ["bert@1.0.0+build.7"]  # a version without the tag: false


def test_like_escapes_match_percent_and_underscore_literally() -> None:
    odd = [candidate("m", "1.0.0", description="100% a_b"), candidate("m", "2.0.0", description="100x aXb")]
    assert found(r"description like '100\% a\_b'", candidates=odd) == ["m@1.0.0"]
    assert found(r"description like '100% a_b'", candidates=odd) == ["m@1.0.0", "m@2.0.0"]


def test_and_or_not_and_parentheses_combine() -> None:
    assert found("name = 'bert' or metrics.top1 > 0.79") == ["bert@1.0.0+build.7", "resnet50@3.0.0-rc.1"]
    assert found("(name = 'bert' or alias exists) and not alias = 'canary'") == ["bert@1.0.0+build.7",
                                                                                 "resnet50@2.0.0"]
    assert found("name = 'a' or name = 'b' or name = 'bert' or name = 'c'") == ["bert@1.0.0+build.7"]
    assert found("metrics.top1 > 0 and metrics.top1 < 1 and version satisfies '2' and alias exists") == [
        "resnet50@2.0.0", "resnet50@2.1.0"]


def test_order_by_a_metric_puts_versions_without_it_last_either_way() -> None:
    assert found("", "metrics.latency_ms") == ["resnet50@1.0.0", "resnet50@2.0.0", "resnet50@2.1.0",
                                              "bert@1.0.0+build.7", "resnet50@3.0.0-rc.1"]
    assert found("", "metrics.latency_ms DESC") == ["resnet50@2.1.0", "resnet50@2.0.0", "resnet50@1.0.0",
                                                   "bert@1.0.0+build.7", "resnet50@3.0.0-rc.1"]


def test_order_by_several_terms_then_ties_by_name_and_version() -> None:
    assert found("", "name desc, version desc") == ["resnet50@3.0.0-rc.1", "resnet50@2.1.0", "resnet50@2.0.0",
                                                    "resnet50@1.0.0", "bert@1.0.0+build.7"]
    assert found("", "training_date, registered_at desc") == ["bert@1.0.0+build.7", "resnet50@1.0.0",
                                                             "resnet50@2.0.0", "resnet50@2.1.0",
                                                             "resnet50@3.0.0-rc.1"]


def test_order_by_params_of_mixed_types_follows_the_documented_total_order() -> None:
    # numbers < strings < false < true < null < arrays < objects; missing last
    assert found("", "params.lr") == ["resnet50@2.0.0", "resnet50@1.0.0", "resnet50@2.1.0",
                                      "bert@1.0.0+build.7", "resnet50@3.0.0-rc.1"]
    assert found("", "params.lr desc") == ["resnet50@3.0.0-rc.1", "bert@1.0.0+build.7", "resnet50@2.1.0",
                                           "resnet50@1.0.0", "resnet50@2.0.0"]


def test_limit_takes_the_first_items_and_total_counts_every_match() -> None:
    page = run_search(CANDIDATES, "name = 'resnet50'", order_by="metrics.top1 desc", limit=2, cursor=None)
    assert [i.version for i in page.items] == ["3.0.0-rc.1", "2.1.0"]
    assert page.total == 4 and page.next_cursor is not None


def test_a_page_is_a_frozen_value_with_a_read_only_list() -> None:
    page = run_search(iter(CANDIDATES), "", order_by="", limit=3, cursor=None)
    assert isinstance(page, SearchPage) and page.total == 5
    with pytest.raises(TypeError):
        page.items.append(page.items[0])  # type: ignore[attr-defined]
    assert pickle.loads(pickle.dumps(page)) == page


@pytest.mark.parametrize(
    ("order_by", "column", "says"),
    [
        ("tags.team", 1, "cannot order by tags.team"),
        ("name up", 6, "expected 'asc', 'desc', ','"),
        ("name,", 6, "expected a field after ','"),
        ("metrics", 8, "metrics needs a key"),
    ],
)
def test_a_bad_order_by_is_a_query_error_with_its_column(order_by: str, column: int, says: str) -> None:
    error = refused(order_by=order_by)
    assert error.position == column and says in str(error), error


@pytest.mark.parametrize("limit", [0, -1, 1001])
def test_a_limit_out_of_range_is_a_query_error_naming_the_range(limit: int) -> None:
    assert "from 1 to 1000" in str(refused(limit=limit))


@pytest.mark.parametrize("limit", [True, 2.0, "5", None])
def test_a_limit_of_the_wrong_type_is_a_type_error(limit: object) -> None:
    with pytest.raises(TypeError, match="limit must be an int"):
        run_search(CANDIDATES, "", order_by="", limit=limit, cursor=None)  # type: ignore[arg-type]


def test_an_invalid_where_is_refused_before_any_candidate_is_read() -> None:
    def never() -> Any:
        raise AssertionError("read a candidate")
        yield

    with pytest.raises(QueryError, match="column 16"):
        run_search(never(), "metrics.top1 = 'abc'", order_by="", limit=10, cursor=None)


# -- keyset cursors ---------------------------------------------------------------------------------------------


def walk(candidates: Sequence[Candidate], where: str, order_by: str, limit: int) -> list[str]:
    """Every page's items, following next_cursor to the end."""
    seen: list[str] = []
    cursor = None
    while True:
        page = run_search(candidates, where, order_by=order_by, limit=limit, cursor=cursor)
        seen += [f"{item.name}@{item.version}" for item in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return seen


@pytest.mark.parametrize("order_by", ["", "metrics.top1 desc", "params.lr", "name desc, training_date",
                                      "version desc", "registered_at desc, metrics.latency_ms"])
@pytest.mark.parametrize("limit", [1, 2, 4])
def test_walking_the_pages_gives_what_one_page_gives(order_by: str, limit: int) -> None:
    assert walk(CANDIDATES, "", order_by, limit) == found("", order_by)


def test_the_last_page_has_no_cursor_and_every_page_says_the_total() -> None:
    first = run_search(CANDIDATES, "", order_by="", limit=3, cursor=None)
    second = run_search(CANDIDATES, "", order_by="", limit=3, cursor=first.next_cursor)
    assert (first.total, second.total, len(second.items), second.next_cursor) == (5, 5, 2, None)
    exact = run_search(CANDIDATES, "", order_by="", limit=5, cursor=None)
    assert exact.next_cursor is None


def test_a_cursor_is_url_safe_text_of_bounded_length() -> None:
    cursor = run_search(CANDIDATES, "", order_by="params.opt", limit=1, cursor=None).next_cursor
    assert cursor is not None and len(cursor) < 200
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def first_cursor(where: str = "", order_by: str = "metrics.top1 desc", scope: str = "") -> str:
    cursor = run_search(CANDIDATES, where, order_by=order_by, limit=1, cursor=None, scope=scope).next_cursor
    assert cursor is not None
    return cursor


@pytest.mark.parametrize(
    ("where", "order_by", "scope"),
    [("name = 'resnet50'", "metrics.top1 desc", ""), ("", "metrics.top1", ""), ("", "metrics.top1 desc", "bert")],
)
def test_a_cursor_from_another_query_order_or_scope_is_refused(where: str, order_by: str, scope: str) -> None:
    with pytest.raises(QueryError, match="another query, order or name"):
        run_search(CANDIDATES, where, order_by=order_by, limit=1, cursor=first_cursor(), scope=scope)


def flipped(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


@pytest.mark.parametrize("index", [0, 5, 12, 20, -3, -2])
def test_a_changed_cursor_is_refused(index: int) -> None:
    with pytest.raises(QueryError, match="not one this registry gave out"):
        refused_cursor = flipped(first_cursor(), index)
        run_search(CANDIDATES, "", order_by="metrics.top1 desc", limit=1, cursor=refused_cursor)


@pytest.mark.parametrize("cursor", ["", "x", "!!!!", "a" * 1000, "eyJ9"])
def test_a_malformed_cursor_is_a_query_error(cursor: str) -> None:
    assert "cursor" in str(refused(cursor=cursor))


def test_an_overlong_cursor_is_refused_naming_the_limit() -> None:
    from modelreg._search import MAX_CURSOR_LENGTH

    assert f"limit is {MAX_CURSOR_LENGTH}" in str(refused(cursor="a" * (MAX_CURSOR_LENGTH + 1)))


def test_a_well_signed_cursor_with_a_key_of_the_wrong_shape_is_malformed() -> None:
    from modelreg._search import _fingerprint, encode_cursor

    for raw in ([], [["x"], "resnet50", "1.0.0"], [[0.5], "resnet50", "not a version"], [[0.5], 5, "1.0.0"]):
        cursor = encode_cursor(_fingerprint("", "metrics.top1 desc", ""), raw)
        assert "malformed" in str(refused(order_by="metrics.top1 desc", cursor=cursor))


def test_a_cursor_that_is_not_a_string_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="cursor must be a str"):
        run_search(CANDIDATES, "", order_by="", limit=1, cursor=5)  # type: ignore[arg-type]


# -- paging while versions come and go (hypothesis) -------------------------------------------------------------

POOL = [
    candidate(name, f"{major}.{minor}.0", metrics={"top1": top1} if top1 is not None else {},
              params={"lr": lr}, registered=BASE + timedelta(hours=major * 3 + minor))
    for name in ("a", "b", "c")
    for major, minor, top1, lr in [(1, 0, 0.5, 1), (1, 1, 0.7, "x"), (2, 0, None, True), (2, 1, 0.7, 0.5),
                                   (3, 0, 0.9, None), (3, 1, 0.1, 2)]
]
QUERIES = ["", "metrics.top1 >= 0.5", "name != 'b' or params.lr exists", "version satisfies '>=2'"]
ORDERS = ["", "metrics.top1 desc", "metrics.top1", "params.lr desc", "version desc, name", "registered_at"]


@settings(max_examples=300, deadline=None)
@given(
    start=st.sets(st.integers(0, len(POOL) - 1)),
    where=st.sampled_from(QUERIES),
    order_by=st.sampled_from(ORDERS),
    limit=st.integers(1, 5),
    changes=st.lists(st.lists(st.integers(0, len(POOL) - 1), max_size=4), max_size=20),
)
def test_paging_while_versions_are_added_and_removed_never_repeats_or_skips_a_steady_match(
    start: set[int], where: str, order_by: str, limit: int, changes: list[list[int]]
) -> None:
    present = set(start)
    throughout = set(start)  # in the registry from the first page to the last, never removed meanwhile
    returned: list[int] = []
    cursor = None
    for page_number in range(len(POOL) + 1):
        live = [POOL[i] for i in sorted(present)]
        page = run_search(live, where, order_by=order_by, limit=limit, cursor=cursor)
        returned += [POOL.index(next(c for c in live if c[0] is item)) for item in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
        for index in changes[page_number] if page_number < len(changes) else []:
            present ^= {index}  # toggle: add it if absent, remove it if present
            throughout.discard(index)
    else:
        raise AssertionError("more pages than versions")
    steady = {i for i in throughout if run_search([POOL[i]], where, order_by="", limit=1, cursor=None).total}
    assert len(returned) == len(set(returned)), "a version came back twice"
    assert steady <= set(returned), "a version that matched throughout was skipped"


# -- the compiled form --------------------------------------------------------------------------------------------


def test_query_text_never_becomes_code_only_a_constant_it_is_compared_with() -> None:
    hostile = "x') or __import__('os').system('false') or ('"
    odd = [candidate("m", "1.0.0", description=hostile, tags={"') or True or ('": "v"})]
    assert found(f"description = {hostile!r}", candidates=odd) == ["m@1.0.0"]
    assert found("description = 'x'", candidates=odd) == []
    assert found("tags.`') or True or ('` = 'v'", candidates=odd) == ["m@1.0.0"]
    assert found("tags.`') or True or ('` = 'w'", candidates=odd) == []


def test_compiled_queries_and_orders_are_cached_in_bounded_caches() -> None:
    from modelreg._search import compile_order, compile_where

    assert compile_where("metrics.top1 > 0.5") is compile_where("metrics.top1 > 0.5")
    assert compile_order("metrics.top1 desc") is compile_order("metrics.top1 desc")
    for i in range(600):
        compile_where(f"metrics.top1 > {i}")
    assert compile_where.cache_info().maxsize == compile_order.cache_info().maxsize == 256
    assert compile_where.cache_info().currsize <= 256
