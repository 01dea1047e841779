"""Change notifications and history, on every backend."""

from __future__ import annotations

import threading

import pytest

from factories import metadata, wait_until
from modelreg import ModelRegistry, RegistryEvent


def _kinds(events: list[RegistryEvent]) -> list[tuple[str, str, str | None, str | None]]:
    return [(e.kind, e.name, e.version, e.alias) for e in events]


def test_every_change_is_delivered_once_in_revision_order(registry: ModelRegistry) -> None:
    seen: list[RegistryEvent] = []
    with registry.subscribe(seen.append):
        registry.register_model("m", "1.0.0", metadata())
        registry.register_model("m", "1.1.0", metadata())
        registry.set_alias("m", "production", "1.0.0")
        registry.set_alias("m", "production", "1.1.0")
        registry.remove_alias("m", "production")
        registry.set_alias("m", "staging", "1.0.0")
        registry.unregister_model("m", "1.0.0", force=True)
        assert wait_until(lambda: len(seen) >= 8)

    assert _kinds(seen) == [
        ("registered", "m", "1.0.0", None),
        ("registered", "m", "1.1.0", None),
        ("alias_set", "m", "1.0.0", "production"),
        ("alias_set", "m", "1.1.0", "production"),
        ("alias_removed", "m", "1.1.0", "production"),
        ("alias_set", "m", "1.0.0", "staging"),
        ("alias_removed", "m", "1.0.0", "staging"),
        ("unregistered", "m", "1.0.0", None),
    ]
    revisions = [e.revision for e in seen]
    assert revisions == sorted(set(revisions))
    assert all(e.at.tzinfo is not None for e in seen)


def test_failed_writes_emit_no_event(registry: ModelRegistry) -> None:
    registry.register_model("m", "1.0.0", metadata())
    seen: list[RegistryEvent] = []
    with registry.subscribe(seen.append):
        with pytest.raises(ValueError):
            registry.register_model("m", "1.0.0", metadata())
        registry.register_model("m", "2.0.0", metadata())
        assert wait_until(lambda: len(seen) >= 1)

    assert _kinds(seen) == [("registered", "m", "2.0.0", None)]


def test_closed_subscription_gets_nothing_more(registry: ModelRegistry) -> None:
    seen: list[RegistryEvent] = []
    sub = registry.subscribe(seen.append)
    registry.register_model("m", "1.0.0", metadata())
    assert wait_until(lambda: len(seen) == 1)

    sub.close()
    sub.close()  # idempotent
    registry.register_model("m", "2.0.0", metadata())
    marker: list[RegistryEvent] = []
    with registry.subscribe(marker.append):
        registry.register_model("m", "3.0.0", metadata())
        assert wait_until(lambda: len(marker) >= 1)

    assert len(seen) == 1


def test_a_failing_subscriber_does_not_stop_others(registry: ModelRegistry, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[RegistryEvent] = []

    def broken(event: RegistryEvent) -> None:
        raise RuntimeError("subscriber bug")

    with registry.subscribe(broken), registry.subscribe(seen.append):
        registry.register_model("m", "1.0.0", metadata())
        registry.register_model("m", "2.0.0", metadata())
        assert wait_until(lambda: len(seen) == 2)

    assert registry.get_versions("m") == ["1.0.0", "2.0.0"]


def test_events_from_many_threads_arrive_once_each_in_order(registry: ModelRegistry) -> None:
    seen: list[RegistryEvent] = []
    lock = threading.Lock()

    def record(event: RegistryEvent) -> None:
        with lock:
            seen.append(event)

    def writer(t: int) -> None:
        for i in range(10):
            registry.register_model(f"m{t}", f"1.0.{i}", metadata())

    with registry.subscribe(record):
        threads = [threading.Thread(target=writer, args=(t,)) for t in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert wait_until(lambda: len(seen) >= 50)

    assert len(seen) == 50
    revisions = [e.revision for e in seen]
    assert revisions == sorted(revisions) and len(set(revisions)) == 50
    assert {(e.name, e.version) for e in seen} == {(f"m{t}", f"1.0.{i}") for t in range(5) for i in range(10)}


def test_history_lists_a_models_changes_oldest_first(registry: ModelRegistry) -> None:
    registry.register_model("m", "1.0.0", metadata())
    registry.register_model("other", "1.0.0", metadata())
    registry.set_alias("m", "production", "1.0.0")
    registry.unregister_model("m", "1.0.0", force=True)

    history = registry.history("m")

    assert _kinds(history) == [
        ("registered", "m", "1.0.0", None),
        ("alias_set", "m", "1.0.0", "production"),
        ("alias_removed", "m", "1.0.0", "production"),
        ("unregistered", "m", "1.0.0", None),
    ]
    assert [e.revision for e in history] == sorted(e.revision for e in history)

