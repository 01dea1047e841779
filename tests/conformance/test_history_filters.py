"""``history(name, version=..., kinds=...)``: one version's events, some kinds of events, on every backend."""

from __future__ import annotations

import pytest

from factories import metadata
from modelreg import InvalidNameError, InvalidVersionError, ModelRegistry, QueryError, RegistryEvent
from modelreg.events import EVENT_KINDS


def _moves(events: list[RegistryEvent]) -> list[tuple[str, str | None, str | None]]:
    return [(e.kind, e.version, e.alias) for e in events]


def _write_story(registry: ModelRegistry) -> None:
    """Two versions, alias moves between them, an annotation, and a second model that must never show up."""
    registry.register_model("hist", "1.0.0+build.7", metadata())
    registry.register_model("hist", "1.1.0", metadata())
    registry.register_model("hist", "1.0.0-rc.1", metadata())  # shares the 1.0.0 prefix, is another version
    registry.register_model("hist-other", "1.0.0", metadata())
    registry.set_alias("hist", "production", "1.0.0")
    registry.set_alias("hist", "production", "1.1.0")
    registry.set_alias("hist", "staging", "1.0.0")
    registry.annotate("hist", "1.0.0", description="the first")
    registry.remove_alias("hist", "staging")
    registry.set_alias("hist-other", "production", "1.0.0")


def test_without_filters_history_is_every_event_of_the_model(registry: ModelRegistry) -> None:
    _write_story(registry)

    events = registry.history("hist")

    assert len(events) == 8
    assert registry.history("hist", version=None, kinds=None) == events
    assert [e.revision for e in events] == sorted(e.revision for e in events)


def test_version_keeps_only_that_versions_events_oldest_first(registry: ModelRegistry) -> None:
    _write_story(registry)

    events = registry.history("hist", version="1.0.0+build.7")

    assert _moves(events) == [
        ("registered", "1.0.0+build.7", None),
        ("alias_set", "1.0.0+build.7", "production"),
        ("alias_set", "1.0.0+build.7", "staging"),
        ("annotated", "1.0.0+build.7", None),
        ("alias_removed", "1.0.0+build.7", "staging"),
    ]
    assert events == [e for e in registry.history("hist") if e.version == "1.0.0+build.7"]


def test_version_ignores_build_metadata_as_get_metadata_does(registry: ModelRegistry) -> None:
    _write_story(registry)
    exact = registry.history("hist", version="1.0.0+build.7")

    assert registry.history("hist", version="1.0.0") == exact
    assert registry.history("hist", version="v1.0.0+other") == exact
    assert _moves(registry.history("hist", version="1.0.0-rc.1")) == [("registered", "1.0.0-rc.1", None)]
    assert registry.history("hist", version="9.9.9") == []
    assert registry.history("nobody", version="1.0.0") == []


def test_kinds_keeps_only_events_of_those_kinds(registry: ModelRegistry) -> None:
    _write_story(registry)

    moves = registry.history("hist", kinds=("alias_set", "alias_removed"))

    assert _moves(moves) == [
        ("alias_set", "1.0.0+build.7", "production"),
        ("alias_set", "1.1.0", "production"),
        ("alias_set", "1.0.0+build.7", "staging"),
        ("alias_removed", "1.0.0+build.7", "staging"),
    ]
    assert registry.history("hist", kinds=["annotated"]) == [e for e in registry.history("hist")
                                                             if e.kind == "annotated"]
    assert registry.history("hist", kinds=iter(["registered"])) == registry.history("hist", kinds={"registered"})
    assert registry.history("hist", kinds=EVENT_KINDS) == registry.history("hist")


def test_version_and_kinds_together_keep_events_passing_both(registry: ModelRegistry) -> None:
    _write_story(registry)

    events = registry.history("hist", version="1.1.0", kinds=["alias_set", "alias_removed"])

    assert _moves(events) == [("alias_set", "1.1.0", "production")]
    assert registry.history("hist", version="1.1.0", kinds=["unregistered"]) == []


def test_empty_kinds_returns_no_events(registry: ModelRegistry) -> None:
    _write_story(registry)

    assert registry.history("hist", kinds=()) == []
    assert registry.history("hist", version="1.0.0", kinds=[]) == []


def test_an_unknown_kind_is_a_query_error_naming_the_allowed_kinds(registry: ModelRegistry) -> None:
    _write_story(registry)

    with pytest.raises(QueryError, match=r"unknown event kind\(s\) 'alias_moved'; the kinds are registered, .*"
                                         r"alias_set, alias_removed"):
        registry.history("hist", kinds=["alias_set", "alias_moved"])


def test_a_malformed_version_is_an_invalid_version_error(registry: ModelRegistry) -> None:
    with pytest.raises(InvalidVersionError):
        registry.history("hist", version="1.0")
    with pytest.raises(InvalidNameError):
        registry.history("bad name", version="1.0.0")


@pytest.mark.parametrize(("arguments", "words"), [
    ({"kinds": "alias_set"}, "kinds must be an iterable of event kinds"),
    ({"kinds": 3}, "kinds must be an iterable of event kinds"),
    ({"kinds": ["alias_set", 3]}, "each of kinds must be a str"),
    ({"version": 1}, "version must be a str"),
])
def test_filters_of_the_wrong_type_are_a_type_error(registry: ModelRegistry, arguments: dict[str, object],
                                                    words: str) -> None:
    with pytest.raises(TypeError, match=words):
        registry.history("hist", **arguments)  # type: ignore[arg-type]
