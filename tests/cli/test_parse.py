"""``register``'s dates and numbers follow the core's rules: RFC 3339 dates, numbers stored exactly or refused.

Driven in-process with click's CliRunner against a real SQLite file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from modelreg.cli.app import cli

ENV: dict[str, str | None] = {"MODELREG_URL": None, "MODELREG_TOKEN": None}


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'reg.db'}"


def register(url: str, *args: str) -> Result:
    argv = ["--registry", url, "register", "m", "1.0.0", "--artifact", "s3://a", *args]
    return CliRunner(env=ENV).invoke(cli, argv, catch_exceptions=False)


def stored(url: str) -> dict[str, Any]:
    result = CliRunner(env=ENV).invoke(cli, ["--registry", url, "--json", "show", "m", "1.0.0"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["metadata"]  # type: ignore[no-any-return]


def refused(url: str, result: Result, code: int, *words: str) -> None:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
    models = CliRunner(env=ENV).invoke(cli, ["--registry", url, "--json", "models"])
    assert json.loads(models.stdout) == []


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("2026-01-05T12:30:00Z", "2026-01-05T12:30:00+00:00"),
        ("2026-01-05 12:30:00.25+02:00", "2026-01-05T10:30:00.250000+00:00"),
        ("2026-01-05", "2026-01-05T00:00:00+00:00"),
    ],
)
def test_trained_at_takes_rfc_3339(url: str, given: str, kept: str) -> None:
    assert register(url, "--trained-at", given).exit_code == 0
    assert stored(url)["training_date"] == kept


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("2026-01-05T12:30:00", "no UTC offset"),
        ("2026-01-05T1234561234567", "not in RFC 3339 form"),
        ("2026-01-05T12:30:00Z garbage", "not in RFC 3339 form"),
        ("2026-01-05T12:30:00.1234567Z", "more than 6 fractional digits"),
        ("2026-01-05/12:30:00Z", "use 'T'"),
    ],
)
def test_trained_at_outside_rfc_3339_is_a_usage_error(url: str, given: str, reason: str) -> None:
    refused(url, register(url, "--trained-at", given), 2, "--trained-at", reason, "RFC 3339")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("9007199254740993.0", "nearest 64-bit float is 9007199254740992.0"),
        ("0.1000000000000000000001", "nearest 64-bit float is 0.1"),
        ("1e400", "too large"),
        ("1e-400", "too small"),
    ],
)
def test_numbers_stored_inexactly_are_refused_in_options(url: str, value: str, reason: str) -> None:
    refused(url, register(url, "--metric", f"top1={value}"), 2, "--metric", reason)
    refused(url, register(url, "--param", f"n={value}"), 2, "--param", reason)


def test_numbers_whose_value_is_the_stored_float_are_kept(url: str) -> None:
    assert register(url, "--metric", "a=1.50", "--metric", "b=0.1", "--param", "c=2.50e-3").exit_code == 0
    meta = stored(url)
    assert meta["performance_metrics"] == {"a": 1.5, "b": 0.1}
    assert meta["hyperparameters"] == {"c": 0.0025}


@pytest.mark.parametrize(
    ("filename", "content", "reason"),
    [
        ("m.json", '{"performance_metrics": {"x": 9007199254740993.0}}', "nearest 64-bit float is 9007199254740992.0"),
        ("m.json", '{"hyperparameters": {"x": 0.1000000000000000000001}}', "nearest 64-bit float is 0.1"),
        ("m.yaml", "performance_metrics:\n  x: 9007199254740993.0\n", "nearest 64-bit float is 9007199254740992.0"),
        ("m.yaml", "hyperparameters:\n  x: 0.1000000000000000000001\n", "nearest 64-bit float is 0.1"),
        ("m.yaml", "hyperparameters:\n  x: 1.0e+400\n", "too large"),
        ("m.yaml", "hyperparameters:\n  x: 1:30.5\n", "base-60"),
        ("m.yaml", "hyperparameters:\n  x: 010\n", "octal, hexadecimal, binary or base-60"),  # YAML 1.1: 8
        ("m.yaml", "hyperparameters:\n  x: 0x10\n", "octal, hexadecimal, binary or base-60"),  # YAML 1.1: 16
        ("m.yaml", "hyperparameters:\n  x: 0b11\n", "octal, hexadecimal, binary or base-60"),  # YAML 1.1: 3
        ("m.yaml", "hyperparameters:\n  x: 12:30:00\n", "octal, hexadecimal, binary or base-60"),  # 45000
        ("m.yaml", "hyperparameters:\n  x: 1e400\n", "too large"),  # YAML 1.1: the text "1e400"
    ],
)
def test_numbers_stored_inexactly_are_refused_in_metadata_files(
    url: str, tmp_path: Path, filename: str, content: str, reason: str
) -> None:
    path = tmp_path / filename
    path.write_text(content)
    refused(url, register(url, "--from-file", str(path)), 2, "--from-file", reason)


def test_yaml_numbers_written_differently_but_exactly_are_kept(url: str, tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("performance_metrics:\n  a: 1.50\n  b: 1_000.5\n  c: .5\n  d: 1e3\n"
                    "hyperparameters:\n  n: 10\n  m: -0\n  big: 9007199254740993\n  s: '010'\n")
    assert register(url, "--from-file", str(path)).exit_code == 0
    assert stored(url)["performance_metrics"] == {"a": 1.5, "b": 1000.5, "c": 0.5, "d": 1000.0}
    assert stored(url)["hyperparameters"] == {"n": 10, "m": 0, "big": 9007199254740993, "s": "010"}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("training_date: 2026-01-05T12:30:00\n", "no UTC offset"),  # PyYAML would take it as UTC
        ("training_date: 2026-01-05 12:30:00.1234567Z\n", "more than 6 fractional digits"),  # PyYAML cuts it
        ("training_date: 2026-1-5\n", "not in RFC 3339 form"),
        ('training_date: "2026-01-05T1234561234567"\n', "not in RFC 3339 form"),
    ],
)
def test_yaml_and_json_dates_follow_rfc_3339(url: str, tmp_path: Path, line: str, reason: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(line)
    refused(url, register(url, "--from-file", str(path)), 5, "training_date", reason)
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"training_date": line.split(": ", 1)[1].strip().strip('"')}))
    refused(url, register(url, "--from-file", str(path)), 5, "training_date", reason)


def test_yaml_timestamps_are_read_as_rfc_3339_or_kept_as_text(url: str, tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("training_date: 2026-01-05T12:30:00+02:00\nhyperparameters:\n  cutoff: 2025-12-31\n")
    assert register(url, "--from-file", str(path)).exit_code == 0
    meta = stored(url)
    assert meta["training_date"] == "2026-01-05T10:30:00+00:00"
    assert meta["hyperparameters"] == {"cutoff": "2025-12-31"}  # the text written, not a date object
