"""The importer's rules, without MLflow: version maps, params, and what is left out of a version and why."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from modelreg.importing import VersionMap, parse_param
from modelreg.importing._mapping import build_metadata
from modelreg.importing._source import SourceRun, SourceVersion
from modelreg.metadata import LIMITS

WHEN = datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)


def version(number: int = 3, **fields: object) -> SourceVersion:
    base: dict[str, object] = {"number": number, "description": "", "tags": {}, "stage": "None",
                               "source": "runs:/abc/model", "run_id": "abc", "created_ms": None}
    return SourceVersion(**{**base, **fields})  # type: ignore[arg-type]


def a_run(**fields: object) -> SourceRun:
    base: dict[str, object] = {"metrics": {}, "params": {}, "start_time": None,
                               "end_time": int(WHEN.timestamp() * 1000)}
    return SourceRun(**{**base, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "number", "tags", "expected"), [
    ("default", 7, {}, "7.0.0"),
    ("template:1.{n}.0", 7, {}, "1.7.0"),
    ("template:0.0.{n}-beta", 12, {}, "0.0.12-beta"),
    ("tag:sem_ver", 7, {"sem_ver": "v2.1.0"}, "2.1.0"),  # a leading v is accepted, as everywhere
])
def test_a_version_map_gives_the_canonical_semver(text: str, number: int, tags: dict[str, str],
                                                  expected: str) -> None:
    assert VersionMap.parse(text).semver(version(number, tags=tags)) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("tags:sem_ver", "expected 'default' (N.0.0), 'tag:KEY'"),
    ("tag:", "expected 'default'"),
    ("template:1.0.0", "must use exactly one field, {n}"),
    ("template:{n}.{m}.0", "must use exactly one field, {n}"),
])
def test_a_bad_version_map_is_refused_naming_the_forms(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="version map") as refused:
        VersionMap.parse(text)
    assert message in str(refused.value)


@pytest.mark.parametrize(("text", "value"), [
    ("50", 50), ("-3", -3), ("0.01", 0.01), ("1e-3", "1e-3"), ("True", True), ("false", False),
    ("adam", "adam"), ("nan", "nan"), ("inf", "inf"), ("1e400", "1e400"), ("None", "None"), ("", ""),
    ("0x10", "0x10"), ("1_000", "1_000"),
])
def test_parse_params_takes_only_integers_finite_decimals_and_booleans(text: str, value: object) -> None:
    parsed = parse_param(text)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize(("text", "value"), [
    ("007", "007"), ("+5", "+5"), ("-0", "-0"), ("1e5", "1e5"), ("1.", "1."), (".5", ".5"), ("5.00", "5.00"),
    ("0.10000000000000000555", "0.10000000000000000555"), (" 5", " 5"), ("１２", "１２"),
    ("9007199254740992", 2**53), ("-9007199254740992", -(2**53)),
    ("9007199254740993", "9007199254740993"), ("123456789012345678901234567890", "123456789012345678901234567890"),
    ("9" * 5000, "9" * 5000),  # longer than int()'s digit limit: text, not a crash
    ("-0.0", -0.0), ("1.5", 1.5), ("1e-05", 1e-05), ("100000.0", 100000.0),
])
def test_parse_params_converts_only_a_number_whose_json_text_is_the_param_itself(text: str, value: object) -> None:
    parsed = parse_param(text)
    assert parsed == value and type(parsed) is type(value)
    if isinstance(parsed, float):
        assert str(parsed) == text  # -0.0 stays negative


@pytest.mark.parametrize("text", ["template:1.{n:03}.0", "template:{n!s}.0.0", "template:{n.real}.0.0",
                                  "template:1.{n", "template:1.{n}}.0"])
def test_a_template_field_with_a_format_spec_or_conversion_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="must use exactly one field, {n}, as written"):
        VersionMap.parse(text)


def test_a_template_fills_every_n_and_reads_doubled_braces_as_braces() -> None:
    assert VersionMap.parse("template:{n}.{n}.0").semver(version(5)) == "5.5.0"
    assert VersionMap.parse("template:1.{n}.0-{{n}}").value == "1.{n}.0-{{n}}"
    with pytest.raises(ValueError, match="not a SemVer"):  # '{n}' is literal text there, never filled
        VersionMap.parse("template:1.{n}.0-{{n}}").semver(version(5))


def test_mlflows_stand_in_for_an_infinite_metric_is_left_out_as_the_infinity_it_is() -> None:
    built = build_metadata(version(), a_run(metrics={"acc": sys.float_info.max, "neg": -sys.float_info.max,
                                                     "big": 1e308, "ok": 0.5}), "u")
    assert built.metadata is not None
    assert built.metadata.performance_metrics == {"big": 1e308, "ok": 0.5}
    assert built.warnings == (
        "metric 'acc' left out: it is inf in MLflow (which stores an infinite value as 1.7976931348623157e+308); "
        "metrics must be finite numbers",
        "metric 'neg' left out: it is -inf in MLflow (which stores an infinite value as -1.7976931348623157e+308); "
        "metrics must be finite numbers")


def test_metrics_over_the_count_limit_keep_the_first_by_name_and_the_version_is_imported() -> None:
    metrics = {f"m{i:04}": float(i) for i in range(LIMITS["metrics"] + 2)}
    built = build_metadata(version(), a_run(metrics=dict(reversed(metrics.items()))), "u")
    assert built.metadata is not None
    assert sorted(built.metadata.performance_metrics) == sorted(metrics)[: LIMITS["metrics"]]
    assert built.warnings == ("2 metrics left out: over the limit of 1000 metrics (kept the first 1000 by name): "
                              "'m1000', 'm1001'",)


def test_tags_over_the_count_limit_leave_room_for_the_importers_own() -> None:
    tags = {f"t{i:03}": "v" for i in range(LIMITS["tags"])}
    built = build_metadata(version(tags=tags, stage="Staging"), a_run(), "u")
    assert built.metadata is not None
    assert len(built.metadata.tags) == LIMITS["tags"]
    assert built.metadata.tags["mlflow.stage"] == "Staging" and built.metadata.tags["mlflow.version"] == "3"
    assert "t095" in built.metadata.tags and "t096" not in built.metadata.tags
    assert built.warnings == ("4 tags left out: over the limit of 100 tags, with the importer's own 4 "
                              "(kept the first 96 by name): 't096', 't097', 't098', 't099'",)


def test_params_together_over_the_size_limit_keep_what_fits_in_name_order() -> None:
    params = {f"p{i:02}": "x" * 5000 for i in range(20)}
    params["a-small"] = "1"
    built = build_metadata(version(), a_run(params=params), "u")
    assert built.metadata is not None
    kept = built.metadata.hyperparameters
    assert sorted(kept) == ["a-small", *(f"p{i:02}" for i in range(13))]
    assert len(json.dumps(dict(kept)).encode()) <= LIMITS["hyperparameters_json_bytes"]
    assert built.warnings == (
        "7 params left out: together over the hyperparameters limit of 65536 bytes as JSON "
        "(kept in name order while they fit): 'p13', 'p14', 'p15', 'p16', 'p17', 'p18', 'p19'",)


def test_the_training_date_falls_back_from_end_to_start_to_creation_time() -> None:
    assert build_metadata(version(), a_run(), "u").date_source == "run end time"
    started = a_run(end_time=None, start_time=1_000)
    assert build_metadata(version(), started, "u").metadata.training_date == datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)
    built = build_metadata(version(created_ms=2_000, run_id=""), None, "u")
    assert (built.date_source, built.metadata.training_date.second) == ("version creation time", 2)
    none = build_metadata(version(run_id=""), None, "u")
    assert none.metadata is None and none.reason.startswith("no training date")


def test_a_value_our_rules_refuse_is_left_out_with_a_warning_never_changed() -> None:
    long_value = "x" * (LIMITS["tag_value_chars"] + 1)
    long_key = "k" * (LIMITS["tag_key_chars"] + 1)
    built = build_metadata(
        version(tags={"ok": "1", "long": long_value, long_key: "v"}),
        a_run(metrics={"auc": 0.9, "loss": float("nan"), "big": float("inf")},
              params={"lr": "0.1", "blob": "y" * (LIMITS["hyperparameters_json_bytes"] + 1)}),
        "s3://m/3",
    )
    assert built.metadata is not None
    assert built.metadata.tags == {"ok": "1", "mlflow.version": "3", "mlflow.run_id": "abc",
                                   "mlflow.source": "runs:/abc/model"}
    assert built.metadata.performance_metrics == {"auc": 0.9}
    assert built.metadata.hyperparameters == {"lr": "0.1"}
    assert [w.split(" left out: ")[0] for w in built.warnings] == [
        "tag 'long'", f"tag {long_key[:80]!r}", "param 'blob'", "metric 'loss'", "metric 'big'"]
    assert "1025 characters; the limit is 1024" in built.warnings[0]


def test_a_version_whose_metadata_cannot_be_stored_is_skipped_with_the_reason() -> None:
    too_long = build_metadata(version(description="d" * (LIMITS["description_chars"] + 1)), a_run(), "u")
    assert too_long.metadata is None
    assert too_long.reason == "description is 10001 characters; the limit is 10000"
    nowhere = build_metadata(version(source="", run_id="", created_ms=1), None, "")
    assert (nowhere.metadata, nowhere.reason) == (None, "no artifact path: MLflow gives no download URI and no source")


def test_an_mlflow_tag_named_like_the_importers_own_is_replaced_and_said() -> None:
    built = build_metadata(version(tags={"mlflow.version": "99"}, stage="Archived"), a_run(), "u")
    assert built.metadata is not None
    assert built.metadata.tags["mlflow.version"] == "3" and built.metadata.tags["mlflow.stage"] == "Archived"
    assert built.warnings == ("MLflow tag(s) 'mlflow.version' replaced by the importer's own",)


def test_importing_modelreg_does_not_import_mlflow() -> None:
    code = "import sys, modelreg, modelreg.cli.app; print('mlflow' in sys.modules, modelreg.import_mlflow.__name__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "import_mlflow"]


def test_without_mlflow_installed_the_import_says_how_to_install_it() -> None:
    code = ("import sys; sys.modules['mlflow'] = None\n"
            "from modelreg import MemoryRegistry, import_mlflow\n"
            "from modelreg.importing import SourceError\n"
            "try:\n    import_mlflow(MemoryRegistry(), 'http://127.0.0.1:1')\n"
            "except SourceError as exc:\n    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "install it with: pip install 'modelreg[mlflow]'" in done.stdout


@pytest.mark.parametrize("uri", ["databricks", "databricks-uc", "databricks://profile", "http://127.0.0.1:1",
                                 "postgresql://u@h/db", "sqlite://"])
def test_a_tracking_uri_that_names_no_local_path_is_not_checked_for_one(uri: str) -> None:
    from modelreg.importing._source import _check_exists

    _check_exists(uri)  # MLflow's client decides about these; only a missing local file or directory is refused
