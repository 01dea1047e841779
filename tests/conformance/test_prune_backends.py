"""``prune``: retention of each model's newest versions, on every backend and over HTTP."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factories import metadata
from modelreg import InvalidNameError, ModelRegistry, VersionNotFoundError, acting_as
from modelreg._retention import GONE, IN_USE, REMOVED, apply, select

POOL = ["0.1.0", "0.9.0", "1.0.0-alpha", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0-beta.2", "2.0.0", "10.0.0"]


def _register(registry: ModelRegistry, name: str, versions: list[str]) -> None:
    for version in versions:
        registry.register_model(name, version, metadata())


def _registered_at(registry: ModelRegistry, name: str) -> dict[str, datetime]:
    return {r.version: r.registered_at for r in registry.search(name=name).items}


def test_prune_keeps_the_newest_n_of_each_model_by_precedence_counting_prereleases(registry: ModelRegistry) -> None:
    _register(registry, "a", ["2.0.0", "1.0.0", "2.0.0-rc.1", "0.5.0", "1.5.0"])
    _register(registry, "b", ["1.0.0", "3.0.0"])

    gone = registry.prune(keep_latest=3, dry_run=False)

    assert gone == [("a", "0.5.0"), ("a", "1.0.0")]  # by name, then ascending precedence
    assert registry.get_versions("a") == ["1.5.0", "2.0.0-rc.1", "2.0.0"]
    assert registry.get_versions("b") == ["1.0.0", "3.0.0"]


def test_dry_run_is_the_default_lists_what_would_go_and_changes_nothing(registry: ModelRegistry) -> None:
    _register(registry, "a", ["1.0.0", "1.1.0", "1.2.0"])
    before = registry.history("a")

    listed = registry.prune(keep_latest=1)

    assert listed == [("a", "1.0.0"), ("a", "1.1.0")]
    assert registry.get_versions("a") == ["1.0.0", "1.1.0", "1.2.0"]
    assert registry.history("a") == before
    assert registry.prune(keep_latest=1, dry_run=False) == listed


def test_name_limits_prune_to_that_model(registry: ModelRegistry) -> None:
    _register(registry, "a", ["1.0.0", "2.0.0"])
    _register(registry, "b", ["1.0.0", "2.0.0"])

    assert registry.prune("b", keep_latest=1, dry_run=False) == [("b", "1.0.0")]
    assert registry.get_versions("a") == ["1.0.0", "2.0.0"]
    assert registry.get_versions("b") == ["2.0.0"]


def test_keep_latest_zero_removes_every_unaliased_version(registry: ModelRegistry) -> None:
    _register(registry, "a", ["1.0.0", "2.0.0", "3.0.0"])
    registry.set_alias("a", "production", "2.0.0")

    assert registry.prune(keep_latest=0, dry_run=False) == [("a", "1.0.0"), ("a", "3.0.0")]
    assert registry.get_versions("a") == ["2.0.0"]


def test_older_than_removes_only_versions_registered_before_it(registry: ModelRegistry) -> None:
    _register(registry, "a", ["1.0.0", "3.0.0"])
    time.sleep(0.02)  # registration times come from the clock: keep the two groups apart
    _register(registry, "a", ["2.0.0", "4.0.0", "5.0.0"])
    cutoff = _registered_at(registry, "a")["2.0.0"]  # strictly before: 2.0.0 itself stays

    gone = registry.prune(keep_latest=1, older_than=cutoff, dry_run=False)

    assert gone == [("a", "1.0.0"), ("a", "3.0.0")]
    assert registry.get_versions("a") == ["2.0.0", "4.0.0", "5.0.0"]


def test_older_than_accepts_any_time_zone(registry: ModelRegistry) -> None:
    _register(registry, "a", ["1.0.0", "2.0.0"])
    later = datetime.now(UTC).astimezone(timezone(timedelta(hours=-5)))
    assert registry.prune(keep_latest=1, older_than=later) == [("a", "1.0.0")]
    assert registry.prune(keep_latest=1, older_than=later - timedelta(days=1)) == []


def test_an_aliased_version_is_never_removed_even_when_old(registry: ModelRegistry) -> None:
    _register(registry, "a", ["1.0.0", "2.0.0", "3.0.0", "4.0.0"])
    registry.set_alias("a", "production", "1.0.0")
    registry.set_alias("a", "legacy", "1.0.0")
    registry.set_alias("a", "staging", "2.0.0")

    assert registry.prune(keep_latest=1) == [("a", "3.0.0")]  # the dry run does not list them either
    assert registry.prune(keep_latest=1, dry_run=False) == [("a", "3.0.0")]
    assert registry.get_versions("a") == ["1.0.0", "2.0.0", "4.0.0"]
    assert registry.get_aliases("a") == {"production": "1.0.0", "legacy": "1.0.0", "staging": "2.0.0"}


def test_removals_are_ordinary_unregistered_events_with_the_actor(registry: ModelRegistry) -> None:
    with acting_as("janitor"):
        _register(registry, "a", ["1.0.0", "2.0.0", "3.0.0"])
        expected_actor = registry.history("a")[0].actor  # over HTTP, the server's name for the caller
        registry.prune(keep_latest=1, dry_run=False)

    events = registry.history("a", kinds=["unregistered"])
    assert [(e.kind, e.version, e.alias) for e in events] == [
        ("unregistered", "1.0.0", None),
        ("unregistered", "2.0.0", None),
    ]
    assert all(e.actor == expected_actor for e in events)
    assert [e.kind for e in registry.history("a")].count("alias_removed") == 0


def test_a_version_removed_or_aliased_meanwhile_is_skipped_not_an_error(registry: ModelRegistry) -> None:
    _register(registry, "a", ["1.0.0", "2.0.0", "3.0.0", "4.0.0"])
    chosen = select(registry, keep_latest=1)
    assert chosen.pairs == [("a", "1.0.0"), ("a", "2.0.0"), ("a", "3.0.0")]
    registry.unregister_model("a", "1.0.0")  # someone else, between the reading and the removals
    registry.set_alias("a", "production", "2.0.0")
    told: list[tuple[str, str, str]] = []

    removed = apply(registry, chosen.pairs, lambda name, version, outcome: told.append((name, version, outcome)))

    assert removed == [("a", "3.0.0")]
    assert told == [("a", "1.0.0", GONE), ("a", "2.0.0", IN_USE), ("a", "3.0.0", REMOVED)]
    assert registry.get_versions("a") == ["2.0.0", "4.0.0"]


@pytest.mark.parametrize(
    ("keyword", "value", "error", "says"),
    [
        ("keep_latest", -1, ValueError, "keep_latest must be 0 or more"),
        ("keep_latest", "3", TypeError, "keep_latest must be an int"),
        ("keep_latest", True, TypeError, "keep_latest must be an int"),
        ("keep_latest", 2.0, TypeError, "keep_latest must be an int"),
        ("older_than", datetime(2026, 1, 5), ValueError, "has no time zone; give an aware datetime"),
        ("older_than", "2026-01-05", TypeError, "older_than must be an aware datetime or None"),
        ("older_than", datetime.now(UTC) + timedelta(days=1), ValueError, "is in the future"),
        ("dry_run", "no", TypeError, "dry_run must be a bool"),
    ],
)
def test_bad_arguments_are_clear_errors_and_change_nothing(
    registry: ModelRegistry, keyword: str, value: object, error: type[Exception], says: str
) -> None:
    _register(registry, "a", ["1.0.0", "2.0.0"])
    before = registry.history("a")

    arguments: dict[str, object] = {"keep_latest": 0, "dry_run": False, keyword: value}

    with pytest.raises(error, match=says):
        registry.prune(**arguments)  # type: ignore[arg-type]

    assert registry.history("a") == before


def test_a_bad_or_unknown_model_name_is_refused(registry: ModelRegistry) -> None:
    _register(registry, "a", ["1.0.0"])
    with pytest.raises(InvalidNameError):
        registry.prune("bad name!")
    with pytest.raises(VersionNotFoundError, match="model 'nope' has no versions, so there is nothing to prune"):
        registry.prune("nope", dry_run=False)
    assert registry.get_versions("a") == ["1.0.0"]


_examples = itertools.count()


@st.composite
def _stories(draw: st.DrawFn) -> tuple[dict[str, list[str]], dict[str, set[str]], int, int | None]:
    """Models with versions in random registration order, the versions aliased, keep_latest and a cutoff index."""
    models = draw(st.lists(st.sampled_from(["m1", "m2", "m3"]), min_size=1, max_size=3, unique=True))
    versions = {m: draw(st.permutations(POOL))[: draw(st.integers(1, len(POOL)))] for m in models}
    aliased = {m: set(draw(st.lists(st.sampled_from(vs), max_size=3))) for m, vs in versions.items()}
    keep = draw(st.integers(0, 5))
    cutoff = draw(st.none() | st.integers(0, 12))
    return versions, aliased, keep, cutoff


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(story=_stories())
def test_aliased_and_newest_versions_always_survive_and_exactly_the_rest_goes(
    registry: ModelRegistry, story: tuple[dict[str, list[str]], dict[str, set[str]], int, int | None]
) -> None:
    versions, aliased, keep, cutoff = story
    prefix = f"x{next(_examples)}-"  # each example its own models: the registry outlives examples
    order = [(prefix + m, v) for m, vs in versions.items() for v in vs]
    for name, version in order:
        registry.register_model(name, version, metadata())
    for m, targets in aliased.items():
        for i, version in enumerate(sorted(targets)):
            registry.set_alias(prefix + m, f"alias{i}", version)
    times = {(r.name, r.version): r.registered_at for m in versions for r in registry.search(name=prefix + m).items}
    older_than = None if cutoff is None else times[order[min(cutoff, len(order) - 1)]]
    expected: list[tuple[str, str]] = []
    for m in sorted(versions):
        ranked = registry.get_versions(prefix + m)  # ascending precedence: the registry's own order
        survivors = set(ranked[max(len(ranked) - keep, 0) :] if keep else []) | aliased[m]
        expected += [
            (prefix + m, v) for v in ranked
            if v not in survivors and (older_than is None or times[(prefix + m, v)] < older_than)
        ]

    listed, removed = [], []
    for m in sorted(versions):
        listed += registry.prune(prefix + m, keep_latest=keep, older_than=older_than)
        removed += registry.prune(prefix + m, keep_latest=keep, older_than=older_than, dry_run=False)

    assert listed == expected
    assert removed == expected
    for m in versions:
        left = set(registry.get_versions(prefix + m))
        assert left == {v for v in versions[m] if (prefix + m, v) not in expected}
        assert aliased[m] <= left
