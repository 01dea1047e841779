"""MemoryRegistry specifics: bounded history, flat memory, open_registry("memory://")."""

from __future__ import annotations

import gc
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest

from factories import metadata
from modelreg import EventsUnavailableError, MemoryRegistry, open_registry


def test_open_registry_memory_url_gives_a_memory_registry() -> None:
    assert isinstance(open_registry("memory://"), MemoryRegistry)


def test_each_memory_registry_is_a_store_of_its_own() -> None:
    registry = MemoryRegistry()
    assert registry.store_id == registry.store_id
    assert registry.store_id != MemoryRegistry().store_id


def test_history_keeps_only_the_most_recent_events() -> None:
    registry = MemoryRegistry(history_limit=5)
    for i in range(10):
        registry.register_model("m", f"1.0.{i}", metadata())

    assert [e.version for e in registry.history("m")] == [f"1.0.{i}" for i in range(5, 10)]


def test_history_limit_must_be_a_non_negative_int() -> None:
    with pytest.raises(ValueError, match="history_limit"):
        MemoryRegistry(history_limit=-1)


def _cycle(registry: MemoryRegistry, rounds: int, offset: int) -> None:
    meta = metadata()
    for i in range(rounds):
        name = f"model-{offset + i}"  # new names every time: nothing may be kept per name
        registry.register_model(name, f"1.{i}.0", meta)
        registry.set_alias(name, "production", f"1.{i}.0")
        registry.resolve(name, "production")
        registry.has_version(name, f"v1.{i}.0")
        with registry.subscribe(lambda event: None):
            registry.unregister_model(name, f"1.{i}.0", force=True)


def test_register_unregister_cycles_do_not_grow_memory() -> None:
    registry = MemoryRegistry(history_limit=100)
    tracemalloc.start()  # before the warm-up, so entries evicted from bounded caches count as freed
    try:
        _cycle(registry, 3000, 0)  # warm up: fill the bounded history and caches
        gc.collect()
        before = tracemalloc.take_snapshot()
        _cycle(registry, 3000, 10_000)
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()

    growth = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert growth < 64 * 1024, f"memory grew by {growth} bytes over 3000 cycles"
    assert registry.get_all_model_names() == []
    assert registry._hub.subscriber_count == 0


def test_closed_subscriptions_leave_nothing_behind() -> None:
    registry = MemoryRegistry()
    subs = [registry.subscribe(lambda event: None) for _ in range(100)]
    for sub in subs:
        sub.close()
    assert registry._hub.subscriber_count == 0


def test_actor_is_recorded_and_validated() -> None:
    from modelreg import InvalidNameError, acting_as

    registry = MemoryRegistry()
    with acting_as("ci-bot"):
        registry.register_model("m", "1.0.0", metadata())
    assert registry.history("m")[0].actor == "ci-bot"
    for bad in ["", "x" * 257, "nul\x00", "\ud800"]:
        with pytest.raises(ValueError, match="an actor .* is 1-256 printable characters") as caught, acting_as(bad):
            pass
        assert not isinstance(caught.value, InvalidNameError)  # an actor is not a model name


def test_events_after_is_served_from_the_bounded_buffer_and_says_when_it_no_longer_reaches() -> None:
    from modelreg import EventsUnavailableError

    registry = MemoryRegistry(history_limit=3)
    for i in range(5):
        registry.register_model("m", f"1.{i}.0", metadata())

    assert [e.revision for e in registry.events_after(2)] == [3, 4, 5]
    assert registry.events_after(5) == []
    with pytest.raises(EventsUnavailableError, match=r"last 3 events .*revisions 3-5.* durable store"):
        registry.events_after(1)


def test_events_after_with_no_buffer_has_nothing_to_serve_once_written() -> None:
    from modelreg import EventsUnavailableError

    registry = MemoryRegistry(history_limit=0)
    assert registry.events_after(0) == []
    registry.register_model("m", "1.0.0", metadata())

    assert registry.events_after(1) == []
    with pytest.raises(EventsUnavailableError, match="revision 1"):
        registry.events_after(0)


def test_time_travel_refuses_when_the_buffer_has_dropped_the_events_it_needs() -> None:
    registry = MemoryRegistry(history_limit=3)
    registry.register_model("old", "1.0.0", metadata())
    registry.set_alias("old", "production", "1.0.0")
    first = registry.history("old")[0].at
    before = first - timedelta(microseconds=1)
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        registry.register_model("other", version, metadata())  # pushes both of old's events out

    with pytest.raises(EventsUnavailableError, match=r"history_limit.*'old'.*cannot tell"):
        registry.get_aliases("old", at=datetime.now(UTC))
    with pytest.raises(EventsUnavailableError, match="history_limit"):
        registry.resolve("old", "production", at=first)
    assert registry.get_versions("old", at=before) == []  # before anything it dropped: still known
    assert registry.get_versions("other", at=datetime.now(UTC)) == ["1.0.0", "1.1.0", "1.2.0"]


def test_time_travel_with_a_zero_history_limit_knows_only_the_time_before_any_event() -> None:
    registry = MemoryRegistry(history_limit=0)
    registry.register_model("m", "1.0.0", metadata())

    with pytest.raises(EventsUnavailableError):
        registry.get_versions("m", at=datetime.now(UTC))
    assert registry.get_versions("never", at=datetime.now(UTC)) == []


def test_time_travel_still_refuses_for_a_gone_model_once_its_drop_record_is_pruned() -> None:
    registry = MemoryRegistry(history_limit=2)
    registry.register_model("gone", "1.0.0", metadata())
    alive = registry.history("gone")[0].at
    registry.unregister_model("gone", "1.0.0")
    for i in range(200):  # many short-lived models: the per-model drop records are pruned meanwhile
        registry.register_model(f"m{i}", "1.0.0", metadata())
        registry.unregister_model(f"m{i}", "1.0.0")

    assert len(registry._forgotten) < 100
    with pytest.raises(EventsUnavailableError):
        registry.get_versions("gone", at=alive)
