"""Metadata read back from every backend behaves like ordinary Python values, and stays read-only."""

from __future__ import annotations

import copy
import dataclasses
import json
import multiprocessing
import pickle
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from multiprocessing.pool import Pool
from typing import Any

import pytest

from factories import TRAINED, metadata
from modelreg import MetadataError, ModelMetadata, ModelRegistry

PARAMS: dict[str, Any] = {
    "opt": {"name": "adam", "betas": [0.9, 0.999]},
    "layers": [64, [3, 3], {"kind": "conv"}],
    "flag": True,
    "none": None,
    "big": 2**70,
    "empty": {},
}
METRICS = {"top1": 0.761, "loss": 1e-300}
TAGS = {"team": "vision", "stage": "dev"}


def _stored(registry: ModelRegistry) -> ModelMetadata:
    registry.register_model("m", "1.0.0", metadata(hyperparameters=PARAMS, performance_metrics=METRICS, tags=TAGS))
    return registry.get_metadata("m", "1.0.0")


def _unchanged(registry: ModelRegistry) -> None:
    again = registry.get_metadata("m", "1.0.0")
    assert again.hyperparameters == PARAMS
    assert again.performance_metrics == METRICS
    assert again.tags == TAGS


def test_returned_metadata_equals_the_plain_values_registered(registry: ModelRegistry) -> None:
    returned = registry.register_model(
        "m", "1.0.0", metadata(hyperparameters=PARAMS, performance_metrics=METRICS, tags=TAGS)
    )
    for got in (returned, registry.get_metadata("m", "1.0.0"), registry.get_metadata("m", registry.resolve("m", "^1"))):
        assert got.hyperparameters == PARAMS
        assert got.hyperparameters["opt"]["betas"] == [0.9, 0.999]
        assert got.hyperparameters["layers"][1] == [3, 3]
        assert got.performance_metrics == METRICS
        assert got.tags == TAGS
        assert got.training_date == TRAINED
        assert got == returned


def test_returned_metadata_pickles_copies_and_converts_to_a_dict(registry: ModelRegistry) -> None:
    got = _stored(registry)

    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert pickle.loads(pickle.dumps(got, protocol)) == got
    assert copy.copy(got) == got
    assert copy.deepcopy(got) == got
    assert copy.deepcopy({"m": [got]}) == {"m": [got]}
    as_dict = dataclasses.asdict(got)
    assert as_dict["hyperparameters"] == PARAMS
    assert as_dict == {**got.to_dict(), "training_date": got.training_date}
    assert dataclasses.replace(got, description="copy").hyperparameters == PARAMS


def test_returned_metadata_is_json_serialisable(registry: ModelRegistry) -> None:
    got = _stored(registry)

    assert json.loads(json.dumps(got.hyperparameters)) == PARAMS
    assert json.loads(json.dumps(got.performance_metrics)) == METRICS
    assert json.loads(json.dumps(got.tags)) == TAGS
    assert json.loads(json.dumps(got.to_dict())) == json.loads(got.to_json())


def test_equal_metadata_hash_equal(registry: ModelRegistry) -> None:
    got = _stored(registry)
    built = metadata(version="1.0.0", hyperparameters=PARAMS, performance_metrics=METRICS, tags=TAGS)

    assert got == built
    assert hash(got) == hash(built) == hash(registry.get_metadata("m", "1.0.0"))
    assert {got, built} == {got}
    assert hash(got.hyperparameters) == hash(built.hyperparameters)


def test_every_backend_returns_the_same_types(registry: ModelRegistry) -> None:
    got = _stored(registry)
    expected = metadata(version="1.0.0", hyperparameters=PARAMS, performance_metrics=METRICS, tags=TAGS)

    def shape(value: object) -> object:
        if isinstance(value, dict):
            return (type(value), {key: shape(item) for key, item in value.items()})
        if isinstance(value, list):
            return (type(value), [shape(item) for item in value])
        return type(value)

    for field in ("hyperparameters", "performance_metrics", "tags", "version", "description", "artifact_path"):
        assert shape(getattr(got, field)) == shape(getattr(expected, field)), field
    assert type(got.training_date) is datetime
    assert got.training_date.tzinfo is UTC


@pytest.fixture(scope="module", params=["spawn", "fork"])
def pool(request: pytest.FixtureRequest) -> Iterator[Pool]:
    """One worker pool per start method, shared by the backends."""
    with multiprocessing.get_context(request.param).Pool(1) as workers:
        yield workers


def test_returned_metadata_crosses_a_process_pool(registry: ModelRegistry, pool: Pool) -> None:
    got = _stored(registry)

    assert pool.apply_async(copy.deepcopy, (got,)).get(timeout=120) == got
    assert pool.apply_async(ModelMetadata.to_json, (got,)).get(timeout=120) == got.to_json()


def _iadd(md: ModelMetadata) -> None:
    betas = md.hyperparameters["opt"]["betas"]
    betas += [1]


def _imul(md: ModelMetadata) -> None:
    layers = md.hyperparameters["layers"]
    layers *= 2


def _ior(md: ModelMetadata) -> None:
    tags = md.tags
    tags |= {"x": "y"}  # type: ignore[operator]


MUTATIONS: dict[str, Callable[[ModelMetadata], object]] = {
    "append to a nested list": lambda md: md.hyperparameters["opt"]["betas"].append(1),
    "extend a nested list": lambda md: md.hyperparameters["opt"]["betas"].extend([1]),
    "insert into a nested list": lambda md: md.hyperparameters["opt"]["betas"].insert(0, 1),
    "set a nested list item": lambda md: md.hyperparameters["opt"]["betas"].__setitem__(0, 1.0),
    "set a nested list slice": lambda md: md.hyperparameters["opt"]["betas"].__setitem__(slice(0, 1), [5]),
    "delete a nested list item": lambda md: md.hyperparameters["opt"]["betas"].__delitem__(0),
    "pop a nested list": lambda md: md.hyperparameters["opt"]["betas"].pop(),
    "remove from a nested list": lambda md: md.hyperparameters["opt"]["betas"].remove(0.9),
    "clear a nested list": lambda md: md.hyperparameters["opt"]["betas"].clear(),
    "sort a nested list": lambda md: md.hyperparameters["opt"]["betas"].sort(reverse=True),
    "reverse a nested list": lambda md: md.hyperparameters["opt"]["betas"].reverse(),
    "+= a nested list": _iadd,
    "*= a nested list": _imul,
    "append two levels down": lambda md: md.hyperparameters["layers"][1].append(3),
    "set a key in a list's dict": lambda md: md.hyperparameters["layers"][2].__setitem__("kind", "fc"),
    "set a hyperparameter": lambda md: md.hyperparameters.__setitem__("lr", 1),  # type: ignore[index]
    "set a nested key": lambda md: md.hyperparameters["opt"].__setitem__("name", "sgd"),
    "delete a hyperparameter": lambda md: md.hyperparameters.__delitem__("flag"),  # type: ignore[attr-defined]
    "update hyperparameters": lambda md: md.hyperparameters.update(lr=1),  # type: ignore[attr-defined]
    "setdefault a nested dict": lambda md: md.hyperparameters["empty"].setdefault("k", 1),
    "pop a hyperparameter": lambda md: md.hyperparameters.pop("flag"),  # type: ignore[attr-defined]
    "popitem": lambda md: md.hyperparameters.popitem(),  # type: ignore[attr-defined]
    "clear hyperparameters": lambda md: md.hyperparameters.clear(),  # type: ignore[attr-defined]
    "set a metric": lambda md: md.performance_metrics.__setitem__("top1", 1.0),  # type: ignore[attr-defined]
    "clear metrics": lambda md: md.performance_metrics.clear(),  # type: ignore[attr-defined]
    "set a tag": lambda md: md.tags.__setitem__("team", "x"),  # type: ignore[attr-defined]
    "|= tags": _ior,
}


@pytest.mark.parametrize("mutate", MUTATIONS.values(), ids=MUTATIONS.keys())
def test_mutating_returned_metadata_raises_and_changes_nothing(
    registry: ModelRegistry, mutate: Callable[[ModelMetadata], object]
) -> None:
    got = _stored(registry)
    before = copy.deepcopy(got.to_dict())

    with pytest.raises(TypeError, match="read-only"):
        mutate(got)
    assert got.to_dict() == before
    _unchanged(registry)


def test_assigning_a_field_of_returned_metadata_is_refused(registry: ModelRegistry) -> None:
    got = _stored(registry)
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.description = "x"  # type: ignore[misc]
    _unchanged(registry)


def test_metadata_version_differing_in_build_metadata_is_refused(registry: ModelRegistry) -> None:
    with pytest.raises(MetadataError, match=r"'5\.0\.0\+b' does not match the version being registered '5\.0\.0'"):
        registry.register_model("m", "5.0.0", metadata(version="5.0.0+b"))
    with pytest.raises(MetadataError, match=r"'5\.0\.0' does not match .* '5\.0\.0\+b'"):
        registry.register_model("m", "5.0.0+b", metadata(version="5.0.0"))
    assert registry.get_versions("m") == []

    assert registry.register_model("m", "v5.0.0+b", metadata(version="5.0.0+b")).version == "5.0.0+b"
