"""FrozenDict and FrozenList: read-only, yet plain dicts and lists in every other way."""

from __future__ import annotations

import copy
import json
import pickle

import pytest

from modelreg._frozen import FrozenDict, FrozenList


def _sample() -> FrozenDict:
    return FrozenDict({"a": FrozenList([1, FrozenDict({"b": 2.5})]), "c": None})


def test_frozen_values_equal_plain_ones_and_print_like_them() -> None:
    value = _sample()
    assert value == {"a": [1, {"b": 2.5}], "c": None}
    assert repr(value) == repr({"a": [1, {"b": 2.5}], "c": None})
    assert json.dumps(value) == json.dumps({"a": [1, {"b": 2.5}], "c": None})
    assert isinstance(value, dict) and isinstance(value["a"], list)


def test_frozen_values_rebuild_as_frozen_through_pickle_and_copy() -> None:
    value = _sample()
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        again = pickle.loads(pickle.dumps(value, protocol))
        assert again == value
        assert type(again) is FrozenDict and type(again["a"]) is FrozenList and type(again["a"][1]) is FrozenDict
    assert copy.copy(value) is value
    assert copy.deepcopy(value) is value


def test_equal_frozen_values_hash_equal() -> None:
    assert hash(_sample()) == hash(_sample())
    assert hash(FrozenDict({"x": 1, "y": 2})) == hash(FrozenDict({"y": 2, "x": 1.0}))
    assert hash(FrozenList([1, 2])) == hash((1, 2))
    assert hash(FrozenList([1, 2])) != hash(FrozenList([2, 1]))


def test_operators_that_build_new_values_return_plain_mutable_ones() -> None:
    value = _sample()
    merged = value | {"d": 1}
    joined = value["a"] + [3]
    assert type(merged) is dict and merged == {**value, "d": 1}
    assert type(joined) is list and joined == [1, {"b": 2.5}, 3]
    assert type(value.copy()) is dict and type(value["a"].copy()) is list
    assert type(value["a"][:1]) is list


def test_calling_init_again_changes_nothing() -> None:
    value = _sample()
    value.__init__({"z": 0})  # type: ignore[misc]
    value["a"].__init__([])  # type: ignore[misc]
    assert value == {"a": [1, {"b": 2.5}], "c": None}


def test_read_only_error_says_how_to_get_a_mutable_copy() -> None:
    with pytest.raises(TypeError, match=r"read-only.*dict\(value\)"):
        _sample()["c"] = 1
    with pytest.raises(TypeError, match=r"read-only.*list\(value\)"):
        _sample()["a"].append(1)
