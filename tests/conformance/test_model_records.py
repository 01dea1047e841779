"""Model records (get_model, annotate_model) and delete_model, on every backend."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

import pytest

from factories import metadata
from modelreg import MetadataError, ModelInfo, ModelRegistry, VersionInUseError, VersionNotFoundError


def _model(registry: ModelRegistry) -> None:
    for version in ("1.0.0", "1.1.0", "2.0.0-rc.1"):
        registry.register_model("m", version, metadata())
    registry.set_alias("m", "production", "1.0.0")


def test_get_model_says_versions_latest_aliases_and_times(registry: ModelRegistry) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    _model(registry)
    info = registry.get_model("m")
    assert isinstance(info, ModelInfo)
    assert (info.name, info.description, dict(info.tags)) == ("m", "", {})
    assert (info.version_count, info.latest, dict(info.aliases)) == (3, "1.1.0", {"production": "1.0.0"})
    assert before <= info.created_at <= info.updated_at <= datetime.now(UTC) + timedelta(seconds=5)
    assert info.created_at == registry.history("m")[0].at
    assert info.updated_at == registry.history("m")[-1].at
    assert pickle.loads(pickle.dumps(info)) == info


def test_get_model_of_a_model_without_versions_is_version_not_found(registry: ModelRegistry) -> None:
    with pytest.raises(VersionNotFoundError):
        registry.get_model("nothing")


def test_annotate_model_changes_the_record_and_writes_one_model_annotated_event(registry: ModelRegistry) -> None:
    _model(registry)
    info = registry.annotate_model("m", description="ResNet-50", set_tags={"owner": "vision", "x": "1"})
    info = registry.annotate_model("m", remove_tags=["x"])
    assert (info.description, dict(info.tags)) == ("ResNet-50", {"owner": "vision"})
    assert registry.get_model("m") == info
    events = registry.history("m")[-2:]
    assert [(e.kind, e.version, e.detail) for e in events] == [
        ("model_annotated", None, {"description": "ResNet-50", "set_tags": {"owner": "vision", "x": "1"}}),
        ("model_annotated", None, {"remove_tags": ["x"]}),
    ]
    assert info.updated_at == events[-1].at


def test_annotate_model_that_changes_nothing_writes_no_event(registry: ModelRegistry) -> None:
    _model(registry)
    before = registry.history("m")
    registry.annotate_model("m", description="", remove_tags=["absent"])
    assert registry.history("m") == before


def test_bad_model_annotations_are_refused_and_change_nothing(registry: ModelRegistry) -> None:
    _model(registry)
    before = registry.get_model("m")
    with pytest.raises(MetadataError, match="description"):
        registry.annotate_model("m", description="x" * 100_000)
    with pytest.raises(MetadataError, match="nothing to annotate"):
        registry.annotate_model("m")
    with pytest.raises(VersionNotFoundError):
        registry.annotate_model("absent", description="x")
    assert registry.get_model("m") == before


def test_delete_model_is_refused_while_aliases_exist_and_names_them(registry: ModelRegistry) -> None:
    _model(registry)
    with pytest.raises(VersionInUseError, match="production"):
        registry.delete_model("m")
    assert registry.get_versions("m") == ["1.0.0", "1.1.0", "2.0.0-rc.1"]


def test_delete_model_with_force_removes_every_version_with_one_event_per_version_and_alias(
    registry: ModelRegistry,
) -> None:
    _model(registry)
    registry.register_model("other", "1.0.0", metadata())
    start = len(registry.history("m"))
    registry.delete_model("m", force=True)
    assert registry.get_versions("m") == []
    assert registry.get_all_model_names() == ["other"]
    removed = [(e.kind, e.version, e.alias) for e in registry.history("m")[start:]]
    assert removed == [
        ("alias_removed", "1.0.0", "production"),
        ("unregistered", "1.0.0", None),
        ("unregistered", "1.1.0", None),
        ("unregistered", "2.0.0-rc.1", None),
    ]
    with pytest.raises(VersionNotFoundError):
        registry.get_model("m")


def test_delete_model_without_aliases_needs_no_force_and_a_missing_model_is_version_not_found(
    registry: ModelRegistry,
) -> None:
    registry.register_model("m", "1.0.0", metadata())
    registry.delete_model("m")
    assert registry.get_versions("m") == []
    with pytest.raises(VersionNotFoundError):
        registry.delete_model("m")


def test_a_model_registered_again_after_delete_starts_a_fresh_record(registry: ModelRegistry) -> None:
    registry.register_model("m", "1.0.0", metadata())
    registry.annotate_model("m", description="old")
    registry.delete_model("m")
    registry.register_model("m", "1.0.0", metadata())
    assert registry.get_model("m").description == ""
