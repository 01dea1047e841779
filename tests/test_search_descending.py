"""A lone descending ``order_by`` term (its own fast path) orders and pages exactly as the reversed sort does."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from modelreg import ModelMetadata, VersionRecord
from modelreg._search import Candidate, compile_order, run_search
from modelreg.semver import parse_version

BASE = datetime(2026, 1, 5, tzinfo=UTC)
_VERSIONS = ["1.0.0", "1.0.0-rc.1", "1.0.0-alpha", "1.0.1+b.2", "1.10.0", "2.0.0", "0.9.0", "10.0.0-1"]
_NAMES = ["a", "b", "bert", "resnet"]
# Few distinct values, so ties are common; None: the parameter or metric is missing.
_PARAMS: list[Any] = [None, 1, 1.0, 2.5, -3, "x", "y", "", False, True, [1], {"k": 1}]
_FIELDS = ["name", "version", "registered_at", "training_date", "params.x", "metrics.m"]


def _candidate(name: str, version: str, day: int, hour: int, param: Any, metric: float | None) -> Candidate:
    meta = ModelMetadata(
        training_date=BASE + timedelta(hours=hour),
        artifact_path=f"s3://models/{name}/{version}",
        hyperparameters={} if param is None else {"x": param},
        performance_metrics={} if metric is None else {"m": metric},
        version=version,
    )
    record = VersionRecord(name, version, meta, (), BASE + timedelta(days=day), "ci")
    return record, parse_version(version)


raw_candidates = st.lists(
    st.tuples(st.sampled_from(_NAMES), st.sampled_from(_VERSIONS), st.integers(0, 2), st.integers(0, 2),
              st.sampled_from(_PARAMS), st.sampled_from([None, 0.5, 0.25, -1.0])),
    max_size=30,
    unique_by=lambda row: (row[0], parse_version(row[1]).identity),  # a registry holds each version once
).map(lambda rows: [_candidate(*row) for row in rows])
# Half the pools in the order a registry gives candidates (by name, then precedence), as the fast path
# checks for; with few names, a name or version order then sees long ascending runs and many ties.
candidates = st.tuples(raw_candidates, st.booleans()).map(
    lambda drawn: sorted(drawn[0], key=lambda c: (c[0].name, c[1])) if drawn[1] else drawn[0])


def _param_rank(value: Any) -> tuple[Any, ...]:
    """docs/search.md's order of parameter values: numbers < strings < false < true < null < arrays < objects."""
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, Mapping):
        return (5, json.dumps(value, sort_keys=True))
    return (4, json.dumps(value, sort_keys=True))


def _value(c: Candidate, field: str) -> Any:
    """The field's value for ordering, or None when the version has none."""
    record = c[0]
    if field == "name":
        return record.name
    if field == "version":
        return c[1]
    if field == "registered_at":
        return record.registered_at
    if field == "training_date":
        return record.metadata.training_date
    if field == "metrics.m":
        return record.metadata.performance_metrics.get("m")
    params = record.metadata.hyperparameters
    return _param_rank(params["x"]) if "x" in params else None


def reference(pool: Sequence[Candidate], field: str) -> list[str]:
    """Descending by ``field``, ties by name then version ascending, versions without the field last."""
    ordered = sorted(pool, key=lambda c: (c[0].name, c[1]))
    present = [c for c in ordered if _value(c, field) is not None]
    missing = [c for c in ordered if _value(c, field) is None]
    present.sort(key=lambda c: _value(c, field), reverse=True)  # stable: ties keep name, version order
    return [f"{c[0].name}@{c[0].version}" for c in present + missing]


def walk(pool: Sequence[Candidate], order_by: str, limit: int) -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(len(pool) + 2):
        page = run_search(pool, "", order_by=order_by, limit=limit, cursor=cursor)
        assert page.total == len(pool)
        seen += [f"{item.name}@{item.version}" for item in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return seen
    raise AssertionError("more pages than versions")


def test_lone_descending_terms_take_the_fast_path_and_others_do_not() -> None:
    for field in ["name", "version", "registered_at", "training_date", "params.x"]:
        assert compile_order(f"{field} desc").descending is not None, field
    for order_by in ["", "version", "metrics.m desc", "version desc, name"]:
        assert compile_order(order_by).descending is None, order_by


@settings(max_examples=300, deadline=None)
@given(pool=candidates, field=st.sampled_from(_FIELDS), limit=st.integers(1, 7))
def test_a_descending_order_is_the_reversed_sort_with_ties_ascending_and_missing_last(
    pool: list[Candidate], field: str, limit: int
) -> None:
    expected = reference(pool, field)

    whole = run_search(pool, "", order_by=f"{field} desc", limit=len(pool) + 1, cursor=None)
    first = run_search(pool, "", order_by=f"{field} desc", limit=limit, cursor=None)

    assert [f"{item.name}@{item.version}" for item in whole.items] == expected
    assert [f"{item.name}@{item.version}" for item in first.items] == expected[:limit]
    # The general path (several terms, reversed keys) agrees: ", name" adds nothing to the tie-break.
    assert [f"{i.name}@{i.version}" for i in run_search(pool, "", order_by=f"{field} desc, name", limit=len(pool) + 1,
                                                          cursor=None).items] == expected


@settings(max_examples=300, deadline=None)
@given(pool=candidates, field=st.sampled_from(_FIELDS), limit=st.integers(1, 5))
def test_paging_a_descending_order_with_cursors_yields_every_match_once_in_order(
    pool: list[Candidate], field: str, limit: int
) -> None:
    seen = walk(pool, f"{field} desc", limit)

    assert seen == reference(pool, field)
    assert len(seen) == len(set(seen)) == len(pool)


def test_a_cursor_of_a_descending_page_continues_after_a_tie_at_the_page_boundary() -> None:
    pool = [_candidate(name, "1.0.0", 1, 0, None, None) for name in ("c", "a", "b")]
    pool += [_candidate("a", "2.0.0", 2, 0, None, None)]

    assert walk(pool, "registered_at desc", 1) == ["a@2.0.0", "a@1.0.0", "b@1.0.0", "c@1.0.0"]
    assert walk(pool, "registered_at desc", 2) == ["a@2.0.0", "a@1.0.0", "b@1.0.0", "c@1.0.0"]
