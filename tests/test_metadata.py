"""ModelMetadata: validation on the way in, immutability and exact JSON round trips."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import pickle
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from factories import TRAINED, metadata
from modelreg import InvalidVersionError, MetadataError, ModelMetadata


def test_naive_training_date_is_refused_as_ambiguous() -> None:
    with pytest.raises(MetadataError, match=r"no time zone; pass an aware datetime.*tzinfo=timezone\.utc"):
        metadata(training_date=datetime(2026, 1, 5, 12, 30))


def test_utc_training_date_is_kept() -> None:
    meta = metadata(training_date=datetime(2026, 1, 5, 12, 30, tzinfo=UTC))
    assert meta.training_date == TRAINED
    assert meta.training_date.tzinfo is UTC


def test_aware_training_date_is_stored_in_utc() -> None:
    local = datetime(2026, 1, 5, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    assert metadata(training_date=local).training_date == TRAINED
    assert metadata(training_date=local).training_date.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"training_date": "2026-01-05"}, "training_date must be a datetime"),
        ({"artifact_path": ""}, "artifact_path must not be empty"),
        ({"artifact_path": "   "}, "artifact_path must not be blank"),
        ({"artifact_path": 5}, "artifact_path must be a string"),
        ({"artifact_path": "x" * 5000}, "limit is 4096"),
        ({"performance_metrics": {"acc": math.nan}}, "finite"),
        ({"performance_metrics": {"acc": math.inf}}, "finite"),
        ({"performance_metrics": {"acc": True}}, "must be numbers"),
        ({"performance_metrics": {"acc": "0.9"}}, "must be numbers"),
        ({"performance_metrics": {"acc": 2**64 + 1}}, "exactly"),
        ({"performance_metrics": {"": 1.0}}, "must not be empty"),
        ({"performance_metrics": [1.0]}, "mapping"),
        ({"hyperparameters": {"lr": math.nan}}, "finite"),
        ({"hyperparameters": {1: "x"}}, "keys must be strings"),
        ({"hyperparameters": {"s": {1, 2}}}, "expected str, int, float"),
        ({"hyperparameters": {"b": b"bytes"}}, "expected str, int, float"),
        ({"hyperparameters": {"big": "x" * 70_000}}, "limit"),
        ({"hyperparameters": "lr=0.1"}, "mapping"),
        ({"tags": {"k": 1}}, "must be a string"),
        ({"tags": {f"k{i}": "v" for i in range(101)}}, "limit is 100"),
        ({"description": "nul\x00"}, "NUL"),
        ({"description": "\ud800"}, "surrogate"),
        ({"version": "1.0"}, "invalid version"),
    ],
)
def test_invalid_metadata_is_refused_with_a_clear_message(overrides: dict[str, object], message: str) -> None:
    with pytest.raises((MetadataError, InvalidVersionError), match=message):
        metadata(**overrides)


def test_deeply_nested_hyperparameters_are_refused() -> None:
    deep: dict[str, object] = {}
    cursor = deep
    for _ in range(40):
        cursor["k"] = {}
        cursor = cursor["k"]  # type: ignore[assignment]
    with pytest.raises(MetadataError, match="deeper"):
        metadata(hyperparameters=deep)


def test_integer_metrics_are_stored_as_float() -> None:
    meta = metadata(performance_metrics={"epochs": 3})
    assert meta.performance_metrics["epochs"] == 3.0
    assert type(meta.performance_metrics["epochs"]) is float


def test_version_is_canonicalised() -> None:
    assert metadata(version="v1.2.3+b").version == "1.2.3+b"


def test_metadata_is_frozen_and_independent_of_its_input() -> None:
    params: dict[str, object] = {"layers": [1, 2], "opt": {"name": "adam"}}
    meta = metadata(hyperparameters=params)
    params["layers"].append(3)  # type: ignore[attr-defined]
    params["opt"]["name"] = "sgd"  # type: ignore[index]

    assert meta.to_dict()["hyperparameters"] == {"layers": [1, 2], "opt": {"name": "adam"}}
    with pytest.raises(AttributeError):
        meta.description = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        meta.hyperparameters["opt"]["name"] = "x"  # type: ignore[index]


def test_constructed_metadata_behaves_like_plain_values() -> None:
    params = {"opt": {"name": "adam", "betas": [0.9, 0.999]}, "sizes": (1, 2)}
    meta = metadata(hyperparameters=params, tags={"a": "b"})

    assert meta.hyperparameters == {"opt": {"name": "adam", "betas": [0.9, 0.999]}, "sizes": [1, 2]}  # tuple: list
    assert pickle.loads(pickle.dumps(meta)) == meta
    assert copy.copy(meta) == meta and copy.deepcopy(meta) == meta
    assert dataclasses.asdict(meta)["hyperparameters"] == meta.to_dict()["hyperparameters"]
    assert json.loads(json.dumps(meta.hyperparameters)) == meta.to_dict()["hyperparameters"]
    assert hash(meta) == hash(metadata(hyperparameters=params, tags={"a": "b"}))
    with pytest.raises(TypeError, match="read-only"):
        meta.hyperparameters["opt"]["betas"].append(1)
    assert meta.hyperparameters["opt"]["betas"] == [0.9, 0.999]


def test_to_dict_gives_plain_mutable_copies() -> None:
    meta = metadata(hyperparameters={"opt": {"betas": [0.9]}})
    plain = meta.to_dict()
    plain["hyperparameters"]["opt"]["betas"].append(1)
    plain["tags"]["x"] = "y"
    assert type(plain["hyperparameters"]["opt"]) is dict
    assert meta.hyperparameters == {"opt": {"betas": [0.9]}}
    assert meta.tags == {"team": "vision"}


def test_from_dict_refuses_unknown_and_missing_fields() -> None:
    data = metadata().to_dict()
    with pytest.raises(MetadataError, match="unknown field.*'colour'"):
        ModelMetadata.from_dict({**data, "colour": "red"})
    del data["artifact_path"]
    with pytest.raises(MetadataError, match="missing required field.*artifact_path"):
        ModelMetadata.from_dict(data)
    with pytest.raises(MetadataError, match="RFC 3339"):
        ModelMetadata.from_dict({**metadata().to_dict(), "training_date": "yesterday"})


def test_json_round_trip_is_exact() -> None:
    meta = metadata(
        version="1.0.0",
        hyperparameters={"big": 2**70, "small": 5e-324, "x": [1, {"y": None}], "unicode": "é🚀"},
        performance_metrics={"loss": 1e300},
        description="d",
    )
    assert ModelMetadata.from_json(meta.to_json()) == meta
    assert json.loads(meta.to_json())["hyperparameters"]["big"] == 2**70


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                              max_size=8), children, max_size=4),
    max_leaves=20,
)


@given(
    params=st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda s: "\x00" not in s), json_values,
                           max_size=5).filter(lambda d: all(c < "\ud800" or c > "\udfff" for k in d for c in k)),
    metric=st.floats(allow_nan=False, allow_infinity=False),
)
def test_any_json_hyperparameters_survive_a_round_trip(params: dict[str, object], metric: float) -> None:
    meta = metadata(hyperparameters=params, performance_metrics={"m": metric})
    again = ModelMetadata.from_json(meta.to_json())
    assert again == meta
    assert ModelMetadata._from_stored(json.loads(meta.to_json())) == meta  # the stores' trusted decode
    assert again.to_dict()["hyperparameters"] == json.loads(json.dumps(params))


def test_trusted_decode_of_stored_metadata_is_read_only() -> None:
    meta = metadata(version="1.0.0", hyperparameters={"x": [1, {"y": 2}]})
    again = ModelMetadata._from_stored(json.loads(meta.to_json()))
    assert again == meta
    with pytest.raises(TypeError):
        again.hyperparameters["x"][1]["y"] = 3  # type: ignore[index]
    with pytest.raises(TypeError):
        again.tags["k"] = "v"  # type: ignore[index]


def test_null_required_field_is_a_metadata_error() -> None:
    data = {**metadata().to_dict(), "artifact_path": None}
    with pytest.raises(MetadataError, match="missing required field.*artifact_path"):
        ModelMetadata.from_dict(data)


@pytest.mark.parametrize(
    "date",
    [datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
     datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-1)))],
)
def test_training_date_outside_utc_range_is_a_metadata_error(date: datetime) -> None:
    with pytest.raises(MetadataError, match="outside the range"):
        metadata(training_date=date)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"n": 1.5e-400}', "too small"),
        ('{"n": 1e400}', "too large"),
        ('{"n": NaN}', "not a JSON number"),
        ('{"n": 1, "n": 2}', "appears twice"),
        ("[" * 100_000, "nests too deeply"),
    ],
)
def test_strict_json_refuses_what_would_not_come_back_exactly(text: str, message: str) -> None:
    from modelreg._json import loads_strict

    with pytest.raises(ValueError, match=message):
        loads_strict(text)


def test_strict_json_keeps_exact_numbers() -> None:
    from modelreg._json import loads_strict

    assert loads_strict('{"a": 0.0, "b": -0.0, "c": 5e-324, "d": 1e308, "e": 0e10, "f": 12}') == {
        "a": 0.0, "b": -0.0, "c": 5e-324, "d": 1e308, "e": 0.0, "f": 12}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("9007199254740993.0", "nearest 64-bit float is 9007199254740992.0"),
        ("0.1000000000000000000001", "nearest 64-bit float is 0.1;"),
        ("123456789.123456789", "nearest 64-bit float is 123456789.12345679"),
        ("4.9e-324", "nearest 64-bit float is 5e-324"),
        ("1e400", "too large"),
        ("-1e400", "too large"),
        ("1e-400", "too small"),
    ],
)
def test_numbers_that_cannot_be_stored_exactly_are_refused_however_written(text: str, message: str) -> None:
    from modelreg._json import loads_strict

    with pytest.raises(ValueError, match=message):
        loads_strict(f'{{"n": {text}}}')
    for field in ("hyperparameters", "performance_metrics"):
        data = json.dumps({**metadata().to_dict(), field: {"n": 1}}).replace('"n": 1', f'"n": {text}')
        with pytest.raises(MetadataError, match=message):
            ModelMetadata.from_json(data)


@pytest.mark.parametrize(
    ("text", "value"),
    [("1.50", 1.5), ("0.1", 0.1), ("1E5", 100000.0), ("2.50e-3", 0.0025), ("-0.0", -0.0), ("5e-324", 5e-324),
     ("0.30000000000000004", 0.1 + 0.2), ("1.7976931348623157e308", 1.7976931348623157e308)],
)
def test_numbers_whose_decimal_value_is_the_stored_float_are_accepted(text: str, value: float) -> None:
    from modelreg._json import loads_strict

    assert loads_strict(f'{{"n": {text}}}')["n"] == value
    data = json.dumps({**metadata().to_dict(), "performance_metrics": {"n": 1}}).replace('"n": 1', f'"n": {text}')
    assert ModelMetadata.from_json(data).performance_metrics["n"] == value


number_texts = st.builds(
    lambda sign, digits, point, exponent: f"{sign}{int(digits[:point] or 0)}.{digits[point:] or '0'}{exponent}",
    st.sampled_from(["", "-"]),
    st.text("0123456789", min_size=1, max_size=30),
    st.integers(0, 30),
    st.sampled_from(["", "e5", "E-7", "e+300", "e-320", "e308", "e-330"]),
)


@given(text=number_texts)
def test_an_accepted_number_comes_back_with_the_value_written(text: str) -> None:
    from decimal import Decimal

    from modelreg._json import loads_strict

    try:
        value = loads_strict(f'{{"n": {text}}}')["n"]
    except ValueError as exc:
        assert "cannot be stored exactly" in str(exc) or "too large" in str(exc) or "too small" in str(exc)
        assert Decimal(text) != Decimal(repr(float(text))) or not math.isfinite(float(text))
        return
    assert Decimal(json.dumps(value)) == Decimal(text)  # what is sent back has the value that was written


def test_metadata_json_refuses_underflowing_numbers() -> None:
    data = json.dumps(metadata().to_dict()).replace('"lr": 0.01', '"lr": 1e-400')
    with pytest.raises(MetadataError, match="too small"):
        ModelMetadata.from_json(data)


def test_sub_microsecond_training_dates_are_refused_not_truncated() -> None:
    data = {**metadata().to_dict(), "training_date": "2026-01-05T00:00:00.123456789+00:00"}
    with pytest.raises(MetadataError, match="more than 6 fractional digits"):
        ModelMetadata.from_dict(data)


def test_null_optional_fields_are_refused_not_emptied() -> None:
    with pytest.raises(MetadataError, match="description must be a string"):
        ModelMetadata.from_dict({**metadata().to_dict(), "description": None})
    assert ModelMetadata.from_dict({**metadata().to_dict(), "version": None}).version is None
