"""annotate(): descriptions and tags change, metrics are only added, one ``annotated`` event each; on every backend."""

from __future__ import annotations

import pickle

import pytest

from factories import metadata, wait_until
from modelreg import MetadataError, ModelRegistry, RegistryEvent, VersionNotFoundError
from modelreg.metadata import LIMITS


def _registered(registry: ModelRegistry) -> None:
    registry.register_model("m", "1.0.0", metadata(tags={"team": "vision", "wip": "yes"}))


def test_annotate_changes_description_and_tags_and_adds_metrics_and_returns_the_new_metadata(
    registry: ModelRegistry,
) -> None:
    _registered(registry)
    new = registry.annotate(
        "m", "1.0.0", description="fine-tuned", set_tags={"team": "nlp", "stage": "eval"}, remove_tags=["wip"],
        add_metrics={"v2_top1": 0.69},
    )
    assert new.description == "fine-tuned"
    assert dict(new.tags) == {"team": "nlp", "stage": "eval"}
    assert dict(new.performance_metrics) == {"top1": 0.761, "top5": 0.93, "v2_top1": 0.69}
    assert registry.get_metadata("m", "1.0.0") == new


def test_annotate_keeps_the_training_date_hyperparameters_and_artifact_path(registry: ModelRegistry) -> None:
    _registered(registry)
    before = registry.get_metadata("m", "1.0.0")
    after = registry.annotate("m", "1.0.0", description="x")
    assert (after.training_date, after.hyperparameters, after.artifact_path, after.version) == (
        before.training_date, before.hyperparameters, before.artifact_path, before.version,
    )


def test_changing_a_recorded_metric_is_refused_and_says_to_register_a_new_version(registry: ModelRegistry) -> None:
    _registered(registry)
    with pytest.raises(MetadataError, match="top1.*register a new version"):
        registry.annotate("m", "1.0.0", add_metrics={"top1": 0.8, "fresh": 1.0})
    assert registry.get_metadata("m", "1.0.0") == metadata(tags={"team": "vision", "wip": "yes"}).with_version("1.0.0")


def test_adding_a_metric_with_its_recorded_value_is_a_no_op(registry: ModelRegistry) -> None:
    _registered(registry)
    revision = registry.history("m")[-1].revision
    assert registry.annotate("m", "1.0.0", add_metrics={"top1": 0.761}) == registry.get_metadata("m", "1.0.0")
    assert registry.history("m")[-1].revision == revision


def test_an_annotation_that_changes_nothing_writes_no_event(registry: ModelRegistry) -> None:
    _registered(registry)
    before = registry.history("m")
    registry.annotate("m", "1.0.0", set_tags={"team": "vision"}, remove_tags=["absent"], description="")
    assert registry.history("m") == before


def test_an_annotation_is_one_annotated_event_with_what_changed_in_history_and_subscriptions(
    registry: ModelRegistry,
) -> None:
    _registered(registry)
    seen: list[RegistryEvent] = []
    with registry.subscribe(seen.append):
        registry.annotate("m", "1.0.0", description="d", set_tags={"team": "vision", "k": "v"}, remove_tags=["wip"],
                          add_metrics={"new": 2})
        assert wait_until(lambda: len(seen) >= 1)
    event = registry.history("m")[-1]
    assert seen == [event]
    assert (event.kind, event.name, event.version, event.alias) == ("annotated", "m", "1.0.0", None)
    assert event.detail == {"description": "d", "set_tags": {"k": "v"}, "remove_tags": ["wip"],
                            "add_metrics": {"new": 2.0}}
    assert RegistryEvent.from_dict(event.to_dict()) == event
    assert pickle.loads(pickle.dumps(event)) == event


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"description": "x" * (LIMITS["description_chars"] + 1)}, MetadataError, "description"),
        ({"set_tags": {"k": 5}}, MetadataError, "tags"),
        ({"set_tags": {"k": "v"}, "remove_tags": ["k"]}, MetadataError, "both set and removed"),
        ({"add_metrics": {"nan": float("nan")}}, MetadataError, "finite"),
        ({"add_metrics": {"n": "abc"}}, MetadataError, "number|float"),
        ({}, MetadataError, "nothing to annotate"),
        ({"remove_tags": "wip"}, TypeError, "remove_tags"),
        ({"set_tags": ["k"]}, TypeError, "set_tags"),
        ({"description": 5}, TypeError, "description"),
    ],
)
def test_bad_annotations_are_refused_naming_what_was_wrong_and_change_nothing(
    registry: ModelRegistry, kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    _registered(registry)
    before = (registry.get_metadata("m", "1.0.0"), registry.history("m"))
    with pytest.raises(error, match=match):
        registry.annotate("m", "1.0.0", **kwargs)  # type: ignore[arg-type]
    assert (registry.get_metadata("m", "1.0.0"), registry.history("m")) == before


def test_annotating_a_missing_version_is_version_not_found(registry: ModelRegistry) -> None:
    _registered(registry)
    with pytest.raises(VersionNotFoundError):
        registry.annotate("m", "2.0.0", description="x")
    with pytest.raises(VersionNotFoundError):
        registry.annotate("other", "1.0.0", description="x")


def test_annotate_accepts_a_v_prefix_and_finds_the_canonical_version(registry: ModelRegistry) -> None:
    _registered(registry)
    assert registry.annotate("m", "v1.0.0", description="x").version == "1.0.0"


def test_search_records_carry_the_annotated_metadata(registry: ModelRegistry) -> None:
    _registered(registry)
    new = registry.annotate("m", "1.0.0", add_metrics={"extra": 1.5})
    assert [record.metadata for record in registry.search(name="m").items] == [new]


def test_annotations_registrations_and_alias_moves_from_threads_leave_state_and_event_log_agreeing(
    registry: ModelRegistry,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    registry.register_model("m", "1.0.0", metadata())
    registry.register_model("m", "1.1.0", metadata())
    rounds = 15

    def annotator(worker: int) -> None:
        for i in range(rounds):
            registry.annotate("m", "1.0.0", add_metrics={f"w{worker}_{i}": float(i)}, set_tags={f"w{worker}": str(i)})

    def registrar() -> None:
        for i in range(rounds):
            registry.register_model("m", f"2.{i}.0", metadata())

    def mover() -> None:
        for i in range(rounds):
            registry.set_alias("m", "production", "1.0.0" if i % 2 else "1.1.0")

    with ThreadPoolExecutor(5) as pool:
        futures = [pool.submit(annotator, w) for w in range(3)] + [pool.submit(registrar), pool.submit(mover)]
        for future in futures:
            future.result()

    history = registry.history("m")
    revisions = [event.revision for event in history]
    assert revisions == sorted(set(revisions))
    annotated = [event for event in history if event.kind == "annotated"]
    assert len(annotated) == 3 * rounds
    meta = registry.get_metadata("m", "1.0.0")
    for event in annotated:
        assert event.detail is not None
        for key, value in event.detail["add_metrics"].items():
            assert meta.performance_metrics[key] == value
    assert dict(meta.tags) == {"team": "vision", **{f"w{w}": str(rounds - 1) for w in range(3)}}
    last_move = [event for event in history if event.kind == "alias_set"][-1]
    assert registry.get_aliases("m") == {"production": last_move.version}
    registered = [event.version for event in history if event.kind == "registered"]
    assert registry.get_versions("m") == sorted(registered, key=lambda v: tuple(map(int, v.split("."))))
    records = registry.search(name="m", limit=1000).items
    assert [r.metadata for r in records] == [registry.get_metadata("m", r.version) for r in records]
    assert {r.version: r.aliases for r in records if r.aliases} == {last_move.version: ("production",)}
    info = registry.get_model("m")
    assert (info.version_count, info.updated_at) == (len(registered), history[-1].at)
