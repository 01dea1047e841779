"""The event log (``EventLog``): committed changes read back by revision, on every backend."""

from __future__ import annotations

import pytest

from factories import metadata, wait_until
from modelreg import EventLog, ModelRegistry, RegistryEvent


def _log(registry: ModelRegistry) -> EventLog:
    assert isinstance(registry, EventLog)
    return registry


def _write_some(registry: ModelRegistry) -> None:
    registry.register_model("m", "1.0.0", metadata())
    registry.register_model("m", "1.1.0", metadata())
    registry.set_alias("m", "production", "1.0.0")
    registry.unregister_model("m", "1.0.0", force=True)  # two events: alias_removed, unregistered


def test_every_backend_is_an_event_log(registry: ModelRegistry) -> None:
    log = _log(registry)
    assert isinstance(log.store_id, str) and log.store_id
    assert isinstance(log.revision, int)


def test_events_after_returns_exactly_the_committed_events_in_order(registry: ModelRegistry) -> None:
    log = _log(registry)
    start = log.revision
    seen: list[RegistryEvent] = []
    with registry.subscribe(seen.append):
        _write_some(registry)
        assert wait_until(lambda: len(seen) >= 5)

    logged = log.events_after(start)
    assert logged == seen
    assert [(e.kind, e.version, e.alias) for e in logged] == [
        ("registered", "1.0.0", None),
        ("registered", "1.1.0", None),
        ("alias_set", "1.0.0", "production"),
        ("alias_removed", "1.0.0", "production"),
        ("unregistered", "1.0.0", None),
    ]
    assert [e.revision for e in logged] == list(range(start + 1, start + 6))


def test_the_revision_is_the_last_committed_event_and_nothing_comes_after_it(registry: ModelRegistry) -> None:
    log = _log(registry)
    _write_some(registry)
    log.refresh()

    assert log.events_after(log.revision - 1)[-1].revision == log.revision
    assert log.events_after(log.revision) == []
    assert log.events_after(log.revision + 100) == []


def test_events_after_honours_the_limit_and_pages_through_the_log(registry: ModelRegistry) -> None:
    log = _log(registry)
    start = log.revision
    _write_some(registry)

    first = log.events_after(start, limit=2)
    rest = log.events_after(first[-1].revision, limit=1000)
    assert [e.revision for e in first] == [start + 1, start + 2]
    assert first + rest == log.events_after(start)
    assert len(log.events_after(start, limit=1)) == 1


@pytest.mark.parametrize(("revision", "limit"), [(-1, 10), (True, 10), ("0", 10), (0, 0), (0, True), (0, 2.5)])
def test_events_after_refuses_a_revision_or_limit_that_is_not_a_fitting_int(
    registry: ModelRegistry, revision: object, limit: object
) -> None:
    with pytest.raises(TypeError, match="revision|limit"):
        _log(registry).events_after(revision, limit)  # type: ignore[arg-type]
