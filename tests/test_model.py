"""A model's snapshot layers: stored metadata decoded on first read, registrations that copy only the fresh
layer, and readers that keep seeing the one revision they hold (docs/scale.md)."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import random
import threading

import pytest

from factories import metadata
from modelreg import MemoryRegistry, MetadataError, ModelMetadata, StoreError
from modelreg._model import ModelState
from modelreg.semver import parse_version

# -- stored metadata, decoded on first read ------------------------------------------------


def _stored(meta: ModelMetadata) -> ModelMetadata:
    assert meta.version is not None
    return ModelMetadata._stored(meta.version, meta.to_json())


def test_metadata_decoded_on_first_read_equals_the_eager_metadata() -> None:
    eager = metadata(description="d", tags={"a": "b"}).with_version("1.2.3+b7")

    assert _stored(eager) == eager and eager == _stored(eager)
    assert hash(_stored(eager)) == hash(eager)
    assert repr(_stored(eager)) == repr(eager)
    assert dataclasses.asdict(_stored(eager)) == dataclasses.asdict(eager)
    assert _stored(eager).to_dict() == eager.to_dict()
    assert pickle.loads(pickle.dumps(_stored(eager))) == eager
    assert copy.deepcopy(_stored(eager)) == eager
    assert _stored(eager).with_version("9.9.9") == eager.with_version("9.9.9")


def test_stored_metadata_gives_back_its_stored_text_without_decoding_it() -> None:
    eager = metadata().with_version("1.0.0")
    lazy = _stored(eager)

    assert lazy.to_json() == eager.to_json()
    assert lazy._text is not None  # still undecoded: the snapshot codec and the server send it as it is
    assert lazy.performance_metrics == eager.performance_metrics
    assert lazy._text is None and lazy.to_json() == eager.to_json()


def test_replacing_fields_of_unread_stored_metadata_gives_plain_validated_metadata() -> None:
    eager = metadata().with_version("1.0.0")
    fields = {name: getattr(eager, name) for name in ("training_date", "artifact_path", "hyperparameters",
                                                      "performance_metrics", "description", "tags")}

    every = dataclasses.replace(_stored(eager), **{**fields, "artifact_path": "s3://elsewhere"})
    some = dataclasses.replace(_stored(eager), description="changed")

    assert type(every) is ModelMetadata and every == dataclasses.replace(eager, artifact_path="s3://elsewhere")
    assert type(some) is ModelMetadata and some == dataclasses.replace(eager, description="changed")
    assert type(copy.copy(_stored(eager))) is ModelMetadata and type(copy.deepcopy(_stored(eager))) is ModelMetadata
    with pytest.raises(MetadataError, match="artifact_path must not be empty"):
        dataclasses.replace(_stored(eager), **{**fields, "artifact_path": ""})


def test_a_registration_decodes_stored_metadata_before_storing_it() -> None:
    registry = MemoryRegistry()
    damaged = ModelMetadata._stored("1.0.0", '{"version":"1.0.0","training_date":"2026-01-05T00:00:00+00:00",'
                                             '"hyperparameters":{broken')
    with pytest.raises(StoreError, match=r"stored metadata of version 1\.0\.0 is unreadable"):
        registry.register_model("m", "1.0.0", damaged)
    registry.register_model("m", "1.0.0", _stored(metadata().with_version("1.0.0")))

    held = registry._state.model("m").metadata("1.0.0")
    assert held is not None and held._text is None and type(held) is ModelMetadata
    assert registry.get_versions("m") == ["1.0.0"]


def test_stored_metadata_stays_read_only() -> None:
    lazy = _stored(metadata().with_version("1.0.0"))

    with pytest.raises(dataclasses.FrozenInstanceError):
        lazy.artifact_path = "s3://elsewhere"  # type: ignore[misc]
    with pytest.raises(TypeError, match="read-only"):
        lazy.hyperparameters["lr"] = 1  # type: ignore[index]
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        lazy.nonsense  # type: ignore[attr-defined]  # noqa: B018


def test_threads_reading_one_stored_metadata_at_once_all_see_the_same_values() -> None:
    eager = metadata().with_version("1.0.0")
    for _ in range(50):
        lazy = _stored(eager)
        seen: list[object] = []
        start = threading.Barrier(4)

        def read(lazy: ModelMetadata = lazy, start: threading.Barrier = start, seen: list[object] = seen) -> None:
            start.wait()
            seen.append((lazy.tags, lazy.training_date, lazy.hyperparameters, lazy.performance_metrics))

        threads = [threading.Thread(target=read) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert seen == [(eager.tags, eager.training_date, eager.hyperparameters, eager.performance_metrics)] * 4


def test_damaged_stored_text_is_a_store_error_naming_the_version_when_first_read() -> None:
    lazy = ModelMetadata._stored("1.0.0", '{"version":"1.0.0","training_date":"2026-01-05T00:00:00+00:00",'
                                          '"hyperparameters":{broken')

    with pytest.raises(StoreError, match=r"stored metadata of version 1\.0\.0 is unreadable"):
        lazy.hyperparameters  # noqa: B018


# -- registrations copy only the fresh layer ------------------------------------------------


def _filled(count: int) -> MemoryRegistry:
    registry = MemoryRegistry()
    for i in range(count):
        registry.register_model("big", f"1.0.{i}", metadata())
    return registry


def _views(model: ModelState) -> tuple[object, ...]:
    return (list(model.ordered), list(model.parsed), dict(model.versions), dict(model.records), len(model),
            dict(model.identities), dict(model.aliases))


def test_registrations_into_a_big_model_share_its_base_and_copy_it_once_per_about_sqrt_n() -> None:
    registry = _filled(2500)
    folds = 0

    for i in range(500):
        before = registry._state.model("big")
        registry.register_model("big", f"2.0.{i}", metadata())
        after = registry._state.model("big")
        assert len(after.fresh) ** 2 <= len(after.base)  # the read path's second lookup stays rare
        if after.base is not before.base:
            folds += 1
            assert not after.fresh  # folded: every version in the new base
        else:
            assert len(after.fresh) == len(before.fresh) + 1

    assert 5 <= folds <= 12  # ~500 / sqrt(2500), not 500 copies
    assert registry.get_versions("big")[-500:] == [f"2.0.{i}" for i in range(500)]


def test_writes_into_a_big_model_leave_the_snapshot_a_reader_holds_unchanged() -> None:
    registry = _filled(150)
    registry.set_alias("big", "production", "1.0.5")
    held = registry._state.model("big")
    seen = _views(held)

    for i in range(100):  # past a fold
        registry.register_model("big", f"3.0.{i}", metadata())
    registry.annotate("big", "1.0.5", description="changed")
    registry.annotate("big", "3.0.1", add_metrics={"new": 1.0})
    registry.set_alias("big", "production", "3.0.2")
    registry.unregister_model("big", "1.0.7")

    assert _views(held) == seen
    assert held.metadata("1.0.5") == metadata().with_version("1.0.5")
    assert held.record("1.0.5").aliases == ("production",)  # type: ignore[union-attr]


def test_the_layers_answer_every_read_as_one_model_would() -> None:
    rng = random.Random(5)
    registry, expected = MemoryRegistry(), {}
    texts = [f"{rng.randrange(4)}.{rng.randrange(60)}.{rng.randrange(3)}" for _ in range(400)]
    for text in dict.fromkeys(texts):
        version = text + ("+b1" if rng.random() < 0.2 else "")
        registry.register_model("m", version, metadata())
        expected[text] = version
    model = registry._state.model("m")

    assert registry.get_versions("m") == sorted(expected.values(), key=parse_version)
    for identity, canonical in expected.items():
        assert registry.has_version("m", identity) and registry.has_version("m", canonical)
        assert registry.get_metadata("m", identity).version == canonical
        assert model.find(identity) == canonical
        assert model.record(canonical) == model.records[canonical]
    assert registry.resolve("m", "latest") == model.ordered[-1]
    assert dict(model.identities) == expected
    assert sorted(model.records) == sorted(model.versions) == sorted(expected.values())


def test_readers_over_a_big_model_see_whole_revisions_while_a_writer_registers() -> None:
    registry = _filled(1000)
    stop = threading.Event()
    problems: list[str] = []

    def read() -> None:
        while not stop.is_set():
            model = registry._state.model("big")
            first = _views(model)
            count = len(model)
            if not (len(model.ordered) == len(model.versions) == len(model.records) == count):
                problems.append(f"a torn snapshot: {len(model.ordered)}, {len(model.versions)}, {count}")
            if list(model.parsed) != sorted(model.parsed):
                problems.append("versions out of order")
            if _views(model) != first:
                problems.append("a held snapshot changed")

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    try:
        for i in range(150):
            registry.register_model("big", f"2.{i % 7}.{i}", metadata())
            if i % 50 == 0:
                registry.unregister_model("big", f"1.0.{i}")
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert problems == []
    assert len(registry.get_versions("big")) == 1000 + 150 - 3
