"""search() through every backend: representative queries, ordering, paging, the records it returns.

The language itself is specified by the engine's own tests; these check that each
backend hands it the same, current records (annotations and alias moves included).
"""

from __future__ import annotations

import pickle

import pytest

from factories import metadata
from modelreg import InvalidNameError, ModelRegistry, QueryError, SearchPage, VersionRecord
from modelreg._plans import acting_as


def _fill(registry: ModelRegistry) -> None:
    for model in ("alpha", "beta"):
        for minor in range(4):
            registry.register_model(
                model,
                f"{minor + 1}.0.0",
                metadata(
                    performance_metrics={"top1": 0.70 + minor / 100},
                    hyperparameters={"optimizer": "adam" if minor % 2 else "sgd"},
                    tags={"team": model},
                ),
            )
    registry.set_alias("alpha", "production", "2.0.0")


def _ids(page: SearchPage) -> list[tuple[str, str]]:
    return [(record.name, record.version) for record in page.items]


def test_an_empty_query_returns_every_version_by_name_then_version(registry: ModelRegistry) -> None:
    _fill(registry)
    page = registry.search()
    assert page.total == 8 and page.next_cursor is None
    assert _ids(page) == [(m, f"{i}.0.0") for m in ("alpha", "beta") for i in range(1, 5)]


def test_a_query_over_metrics_params_and_versions_with_order_by(registry: ModelRegistry) -> None:
    _fill(registry)
    page = registry.search(
        "metrics.top1 >= 0.71 and params.optimizer = 'adam' and version satisfies '>=2'",
        order_by="metrics.top1 desc, name",
    )
    assert _ids(page) == [("alpha", "4.0.0"), ("beta", "4.0.0"), ("alpha", "2.0.0"), ("beta", "2.0.0")]


def test_name_restricts_the_search_to_one_model(registry: ModelRegistry) -> None:
    _fill(registry)
    assert _ids(registry.search("tags.team = 'beta' or alias exists", name="alpha")) == [("alpha", "2.0.0")]
    with pytest.raises(InvalidNameError):
        registry.search(name="bad name!")


def test_records_carry_aliases_metadata_and_who_registered_when(registry: ModelRegistry) -> None:
    with acting_as("ci-bot"):
        registry.register_model("m", "1.0.0", metadata())
    registry.set_alias("m", "staging", "1.0.0")
    registry.set_alias("m", "production", "1.0.0")
    (record,) = registry.search(name="m").items
    assert isinstance(record, VersionRecord)
    assert record.aliases == ("production", "staging")
    assert record.metadata == registry.get_metadata("m", "1.0.0")
    assert record.registered_at == registry.history("m")[0].at
    assert record.registered_by == registry.history("m")[0].actor
    assert pickle.loads(pickle.dumps(record)) == record


def test_an_alias_move_shows_on_both_versions(registry: ModelRegistry) -> None:
    _fill(registry)
    registry.set_alias("alpha", "production", "3.0.0")
    assert _ids(registry.search("alias = 'production'")) == [("alpha", "3.0.0")]
    aliases = {r.version: r.aliases for r in registry.search(name="alpha").items}
    assert aliases["2.0.0"] == () and aliases["3.0.0"] == ("production",)


def test_annotations_are_searchable_at_once(registry: ModelRegistry) -> None:
    _fill(registry)
    registry.annotate("beta", "1.0.0", add_metrics={"latency_ms": 12.5}, set_tags={"stage": "eval"})
    assert _ids(registry.search("metrics.latency_ms < 15 and tags.stage = 'eval'")) == [("beta", "1.0.0")]


def test_a_search_after_writes_sees_them_though_the_same_search_ran_before(registry: ModelRegistry) -> None:
    _fill(registry)
    assert registry.search("metrics.latency_ms exists").total == 0
    assert registry.search(name="gamma").total == 0
    registry.annotate("alpha", "1.0.0", add_metrics={"latency_ms": 9.0})
    registry.register_model("gamma", "1.0.0", metadata(performance_metrics={"latency_ms": 3.0}))
    registry.unregister_model("beta", "4.0.0")
    assert _ids(registry.search("metrics.latency_ms exists")) == [("alpha", "1.0.0"), ("gamma", "1.0.0")]
    assert _ids(registry.search(name="gamma")) == [("gamma", "1.0.0")]
    assert ("beta", "4.0.0") not in _ids(registry.search(limit=1000))


def test_paging_with_the_cursor_walks_every_match_once(registry: ModelRegistry) -> None:
    _fill(registry)
    seen: list[tuple[str, str]] = []
    cursor = None
    while True:
        page = registry.search("metrics.top1 > 0", order_by="metrics.top1", limit=3, cursor=cursor)
        assert page.total == 8
        seen += _ids(page)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 8


def test_a_bad_query_is_a_query_error_with_a_position(registry: ModelRegistry) -> None:
    _fill(registry)
    with pytest.raises(QueryError) as caught:
        registry.search("metrics.top1 >= ")
    assert caught.value.position is not None
    with pytest.raises(QueryError):
        registry.search(limit=0)
    page = registry.search(limit=2)
    with pytest.raises(QueryError):
        registry.search(limit=2, cursor=page.next_cursor, name="alpha")  # a cursor from another scope
