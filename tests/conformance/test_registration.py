"""Registering, listing, looking up and unregistering versions, on every backend."""

from __future__ import annotations

import pytest

from factories import metadata
from modelreg import DuplicateVersionError, ModelMetadata, ModelRegistry, VersionNotFoundError


def test_registered_version_can_be_queried(registry: ModelRegistry) -> None:
    stored = registry.register_model("resnet50", "v1.0.0", metadata())

    assert stored.version == "1.0.0"
    assert registry.has_version("resnet50", "1.0.0")
    assert registry.has_version("resnet50", "v1.0.0")
    assert registry.get_versions("resnet50") == ["1.0.0"]
    assert registry.get_all_model_names() == ["resnet50"]
    got = registry.get_metadata("resnet50", "1.0.0")
    assert got == stored
    assert got.hyperparameters == {"lr": 0.01, "layers": 50, "optimizer": {"name": "sgd", "momentum": 0.9}}
    assert got.performance_metrics == {"top1": 0.761, "top5": 0.93}
    assert got.artifact_path == "s3://models/resnet50/1.0.0"
    assert got.tags == {"team": "vision"}
    assert got.training_date == metadata().training_date


def test_versions_are_listed_in_precedence_order(registry: ModelRegistry) -> None:
    texts = ["2.0.0", "1.0.0-alpha", "1.0.0", "1.0.0-beta.11", "1.0.0-beta.2", "1.10.0", "1.2.0+build.5",
             "1.0.0-alpha.1", "0.9.9"]
    for text in texts:
        registry.register_model("m", text, metadata())

    assert registry.get_versions("m") == [
        "0.9.9", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0",
        "1.2.0+build.5", "1.10.0", "2.0.0",
    ]


def test_build_metadata_is_kept_in_the_canonical_text(registry: ModelRegistry) -> None:
    registry.register_model("m", "v1.2.0+build.5", metadata())

    assert registry.get_metadata("m", "1.2.0").version == "1.2.0+build.5"
    assert registry.has_version("m", "1.2.0+other")


@pytest.mark.parametrize(
    ("first", "second"),
    [("1.0.0", "1.0.0"), ("v1.0.0", "1.0.0"), ("1.0.0", "v1.0.0"), ("1.0.0+a", "1.0.0+b"),
     ("1.0.0", "1.0.0+b"), ("2.0.0-rc.1+x", "v2.0.0-rc.1")],
)
def test_duplicate_version_is_rejected(registry: ModelRegistry, first: str, second: str) -> None:
    registry.register_model("m", first, metadata(artifact_path="s3://first"))

    with pytest.raises(DuplicateVersionError) as caught:
        registry.register_model("m", second, metadata(artifact_path="s3://second"))

    assert caught.value.name == "m"
    assert registry.get_versions("m") == [registry.get_metadata("m", first).version]
    assert registry.get_metadata("m", second).artifact_path == "s3://first"


def test_same_version_of_different_models_is_not_a_duplicate(registry: ModelRegistry) -> None:
    registry.register_model("a", "1.0.0", metadata())
    registry.register_model("b", "1.0.0", metadata())

    assert registry.get_all_model_names() == ["a", "b"]


def test_unregister_removes_the_version(registry: ModelRegistry) -> None:
    registry.register_model("m", "1.0.0", metadata())
    registry.register_model("m", "1.1.0", metadata())

    registry.unregister_model("m", "v1.0.0")

    assert not registry.has_version("m", "1.0.0")
    assert registry.get_versions("m") == ["1.1.0"]
    with pytest.raises(VersionNotFoundError):
        registry.get_metadata("m", "1.0.0")


def test_model_disappears_with_its_last_version(registry: ModelRegistry) -> None:
    registry.register_model("m", "1.0.0", metadata())
    registry.register_model("other", "1.0.0", metadata())

    registry.unregister_model("m", "1.0.0")

    assert registry.get_all_model_names() == ["other"]
    assert registry.get_versions("m") == []


def test_unregistered_version_can_be_registered_again(registry: ModelRegistry) -> None:
    registry.register_model("m", "1.0.0", metadata(artifact_path="s3://old"))
    registry.unregister_model("m", "1.0.0")

    registry.register_model("m", "1.0.0", metadata(artifact_path="s3://new"))

    assert registry.get_metadata("m", "1.0.0").artifact_path == "s3://new"


def test_unregistering_an_absent_version_raises(registry: ModelRegistry) -> None:
    registry.register_model("m", "1.0.0", metadata())

    with pytest.raises(VersionNotFoundError):
        registry.unregister_model("m", "2.0.0")
    with pytest.raises(VersionNotFoundError):
        registry.unregister_model("unknown", "1.0.0")
    assert registry.get_versions("m") == ["1.0.0"]


def test_unknown_model_has_no_versions(registry: ModelRegistry) -> None:
    assert registry.get_versions("nothing-here") == []
    assert not registry.has_version("nothing-here", "1.0.0")
    assert registry.get_all_model_names() == []
    assert registry.history("nothing-here") == []
    with pytest.raises(VersionNotFoundError):
        registry.get_metadata("nothing-here", "1.0.0")


def test_names_are_case_sensitive(registry: ModelRegistry) -> None:
    registry.register_model("Model", "1.0.0", metadata())

    assert registry.get_versions("model") == []
    assert registry.get_all_model_names() == ["Model"]


def test_model_names_are_sorted(registry: ModelRegistry) -> None:
    for name in ["zeta", "alpha", "Beta", "mid.1", "a_b-c"]:
        registry.register_model(name, "1.0.0", metadata())

    assert registry.get_all_model_names() == sorted(["zeta", "alpha", "Beta", "mid.1", "a_b-c"])


def test_hundreds_of_versions_are_stored_and_listed(registry: ModelRegistry) -> None:
    expected = [f"{major}.{minor}.0" for major in range(3) for minor in range(50)]
    for text in reversed(expected):
        registry.register_model("big", text, metadata())

    assert registry.get_versions("big") == expected
    assert all(registry.has_version("big", text) for text in expected)


def test_metadata_version_must_match_the_registered_version(registry: ModelRegistry) -> None:
    from modelreg import MetadataError

    with pytest.raises(MetadataError):
        registry.register_model("m", "1.0.0", metadata(version="1.0.1"))
    assert registry.get_versions("m") == []

    stored = registry.register_model("m", "1.0.0", metadata(version="v1.0.0"))
    assert stored.version == "1.0.0"


def test_returned_metadata_cannot_change_the_registry(registry: ModelRegistry) -> None:
    original = {"lr": 0.1, "layers": [1, 2, 3], "nested": {"k": "v"}}
    registry.register_model("m", "1.0.0", metadata(hyperparameters=original))
    original["lr"] = 99.0
    original["layers"].append(4)  # type: ignore[attr-defined]

    got = registry.get_metadata("m", "1.0.0")
    with pytest.raises(TypeError):
        got.hyperparameters["lr"] = 5  # type: ignore[index]
    with pytest.raises(TypeError):
        got.performance_metrics["top1"] = 1.0  # type: ignore[index]
    with pytest.raises(TypeError):
        got.tags["team"] = "x"  # type: ignore[index]
    with pytest.raises((AttributeError, TypeError)):
        got.artifact_path = "elsewhere"  # type: ignore[misc]
    as_dict = got.to_dict()
    as_dict["hyperparameters"]["lr"] = 7
    registry.get_versions("m").append("9.9.9")
    registry.get_aliases("m")["x"] = "1.0.0"

    again = registry.get_metadata("m", "1.0.0")
    assert again.to_dict()["hyperparameters"] == {"lr": 0.1, "layers": [1, 2, 3], "nested": {"k": "v"}}
    assert registry.get_versions("m") == ["1.0.0"]
    assert registry.get_aliases("m") == {}


def test_metadata_values_come_back_exactly(registry: ModelRegistry) -> None:
    hyper = {"big": 2**62 + 1, "tiny": 5e-324, "neg": -0.5, "unicode": "Zürich ✓ 🚀", "flag": False,
             "none": None, "list": [1, 2.5, "x", [True]], "empty": {}}
    stored = registry.register_model("m", "1.0.0", metadata(hyperparameters=hyper, description="line1\nline2",
                                                             performance_metrics={"loss": 1e-300, "n": 3}))

    got = registry.get_metadata("m", "1.0.0")
    assert got == stored
    assert got.to_dict()["hyperparameters"] == hyper
    assert type(got.to_dict()["hyperparameters"]["big"]) is int
    assert got.performance_metrics == {"loss": 1e-300, "n": 3.0}
    assert got.description == "line1\nline2"
    assert ModelMetadata.from_dict(got.to_dict()) == got
