"""Many threads at once: nothing lost, nothing duplicated, no half-made state seen."""

from __future__ import annotations

import threading

from factories import metadata
from modelreg import DuplicateVersionError, ModelRegistry


def _run(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive()


def test_ten_threads_registering_distinct_versions_all_land(registry: ModelRegistry) -> None:
    barrier = threading.Barrier(10)

    def register(t: int) -> None:
        barrier.wait()
        for i in range(20):
            registry.register_model("shared", f"{t}.{i}.0", metadata())

    _run([threading.Thread(target=register, args=(t,)) for t in range(10)])

    expected = [f"{t}.{i}.0" for t in range(10) for i in range(20)]
    assert registry.get_versions("shared") == expected


def test_ten_threads_registering_the_same_version_exactly_one_wins(registry: ModelRegistry) -> None:
    barrier = threading.Barrier(10)
    outcomes: list[str] = []
    lock = threading.Lock()

    def register(t: int) -> None:
        barrier.wait()
        try:
            registry.register_model("race", "1.0.0", metadata(artifact_path=f"s3://thread-{t}"))
            outcome = "won"
        except DuplicateVersionError:
            outcome = "duplicate"
        with lock:
            outcomes.append(outcome)

    _run([threading.Thread(target=register, args=(t,)) for t in range(10)])

    assert sorted(outcomes) == ["duplicate"] * 9 + ["won"]
    assert registry.get_versions("race") == ["1.0.0"]
    assert len([e for e in registry.history("race") if e.kind == "registered"]) == 1


def test_readers_never_see_a_half_made_write(registry: ModelRegistry) -> None:
    stop = threading.Event()
    problems: list[str] = []
    total = 60

    def writer() -> None:
        try:
            for i in range(total):
                registry.register_model("live", f"1.{i}.0", metadata(artifact_path=f"s3://live/{i}"))
                registry.set_alias("live", "production", f"1.{i}.0")
        finally:
            stop.set()

    def reader() -> None:
        last = 0
        while not stop.is_set():
            listed = registry.get_versions("live")
            if len(listed) < last:
                problems.append(f"version list shrank from {last} to {len(listed)}")
            last = len(listed)
            if listed != sorted(listed, key=lambda v: int(v.split(".")[1])):
                problems.append(f"unsorted list {listed}")
            for text in listed[-3:]:
                meta = registry.get_metadata("live", text)
                if meta.version != text or meta.artifact_path != f"s3://live/{text.split('.')[1]}":
                    problems.append(f"metadata of {text} was {meta}")
            target = registry.get_aliases("live").get("production")
            if target is not None and not registry.has_version("live", target):
                problems.append(f"alias points at missing {target}")

    _run([threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(3)])

    assert problems == []
    assert len(registry.get_versions("live")) == total
