"""The ``modelreg`` command line, driven in-process with click's CliRunner against real SQLite files.

Process-level behaviour (``python -m modelreg``, ``watch``, ``serve``) is in tests/cli/.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from modelreg import EventsUnavailableError, MemoryRegistry, ModelMetadata, open_registry
from modelreg.cli._context import Session, exit_code_for
from modelreg.cli.app import cli
from modelreg.errors import ERROR_CLASSES
from modelreg.server import serve

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
# Environment variables that would leak the developer's own registry into the tests.
CLEAN_ENV: dict[str, str | None] = {"MODELREG_URL": None, "MODELREG_TOKEN": None}


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A fresh SQLite registry file for each test."""
    return f"sqlite:///{tmp_path / 'reg.db'}"


def run(url: str | None, *args: str, env: dict[str, str | None] | None = None) -> Result:
    """Invoke the CLI in-process; exceptions other than exits propagate (a traceback is a bug)."""
    argv = ["--registry", url, *args] if url is not None else list(args)
    return CliRunner(env={**CLEAN_ENV, **(env or {})}).invoke(cli, argv, catch_exceptions=False)


def ok(url: str | None, *args: str, **kwargs: Any) -> Result:
    result = run(url, *args, **kwargs)
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result


def json_out(url: str | None, *args: str) -> Any:
    return json.loads(ok(url, "--json", *args).stdout)


def fails(url: str | None, *args: str, code: int) -> str:
    """Run a command that must fail with ``code``; return its one error line."""
    result = run(url, *args)
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    return result.stderr


def one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


def register(url: str, name: str = "resnet50", version: str = "1.0.0", *extra: str) -> Result:
    return ok(url, "register", name, version, "--artifact", f"s3://models/{name}/{version}", *extra)


# -- help ---------------------------------------------------------------------------


def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            paths += _command_paths(command, (*prefix, name))
        else:
            paths.append((*prefix, name))
    return paths


def test_every_command_has_help_with_an_example_of_itself() -> None:
    paths = _command_paths(cli)
    assert len(paths) >= 18  # the root, 11 commands, the alias and tokens groups and their 3 commands each
    for path in paths:
        result = ok(None, *path, "--help")
        assert "Example:" in result.stdout, path
        example = result.stdout.split("Example:", 1)[1].strip().splitlines()[0].strip()
        words = example.split()
        assert words[0] == "modelreg", (path, example)
        # The example runs the command it documents (global options may come first).
        assert " ".join(path) in " ".join(w for w in words if not w.startswith("-")), (path, example)


# -- reading ------------------------------------------------------------------------


def test_models_lists_names_with_version_counts(url: str) -> None:
    register(url, "resnet50", "1.0.0")
    register(url, "resnet50", "1.1.0")
    register(url, "resnet50", "2.0.0-rc.1")
    register(url, "bert", "0.1.0")
    assert json_out(url, "models") == [{"name": "bert", "versions": 1}, {"name": "resnet50", "versions": 3}]
    lines = ok(url, "models").stdout.splitlines()
    assert lines[0].split() == ["NAME", "VERSIONS"]
    assert [line.split() for line in lines[1:]] == [["bert", "1"], ["resnet50", "3"]]


def test_models_of_an_empty_registry_prints_nothing_on_stdout(url: str) -> None:
    result = ok(url, "models")
    assert result.stdout == ""
    assert "no models" in result.stderr
    assert json_out(url, "models") == []


def test_versions_are_listed_in_precedence_order_with_their_aliases(url: str) -> None:
    for version in ("1.10.0", "1.2.0", "1.2.0-rc.1", "v0.9.0"):
        register(url, "resnet50", version)
    ok(url, "alias", "set", "resnet50", "production", "1.2.0")
    ok(url, "alias", "set", "resnet50", "canary", "1.2.0")
    doc = json_out(url, "versions", "resnet50")
    assert doc == {
        "name": "resnet50",
        "versions": ["0.9.0", "1.2.0-rc.1", "1.2.0", "1.10.0"],
        "aliases": {"production": "1.2.0", "canary": "1.2.0"},
    }
    rows = [line.split(None, 1) for line in ok(url, "versions", "resnet50").stdout.splitlines()[1:]]
    assert rows == [["0.9.0"], ["1.2.0-rc.1"], ["1.2.0", "canary, production"], ["1.10.0"]]


def test_versions_of_an_unknown_model_exits_3(url: str) -> None:
    line = one_error_line(fails(url, "versions", "nosuch", code=3))
    assert "'nosuch' has no versions" in line


def test_show_prints_every_metadata_field(url: str) -> None:
    register(
        url, "resnet50", "1.4.2",
        "--metric", "top1=0.761", "--param", "lr=0.01", "--param", "layers=50", "--param", "code=\"7\"",
        "--tag", "team=vision", "--description", "retrained on more data",
        "--trained-at", "2026-01-05T12:30:00+02:00",
    )  # fmt: skip
    ok(url, "alias", "set", "resnet50", "production", "1.4.2")
    text = ok(url, "show", "resnet50", "v1.4.2").stdout
    for expected in (
        "name:        resnet50",
        "version:     1.4.2",
        "aliases:     production",
        "trained at:  2026-01-05T10:30:00+00:00",
        "artifact:    s3://models/resnet50/1.4.2",
        "description: retrained on more data",
        "top1  0.761",
        'code    "7"',  # text stays quoted, so it is not mistaken for the number 7
        "layers  50",
        "team  vision",
    ):
        assert expected in text, (expected, text)


def test_show_json_carries_metadata_that_round_trips_exactly(url: str) -> None:
    register(url, "resnet50", "1.4.2+build.7", "--metric", "top1=0.1", "--param", 'opt={"name": "sgd"}')
    doc = json_out(url, "show", "resnet50", "1.4.2")
    assert doc["name"] == "resnet50" and doc["version"] == "1.4.2+build.7" and doc["aliases"] == []
    with open_registry(url) as registry:  # type: ignore[attr-defined]
        stored = registry.get_metadata("resnet50", "1.4.2")
    assert ModelMetadata.from_dict(doc["metadata"]) == stored


# -- register -----------------------------------------------------------------------


def test_register_takes_params_as_json_when_they_parse_else_as_text(url: str) -> None:
    register(
        url, "m", "1.0.0",
        "--param", "lr=0.01", "--param", "layers=50", "--param", "flag=true", "--param", "none=null",
        "--param", "sizes=[1, 2]", "--param", 'opt={"name": "sgd"}', "--param", "optimizer=sgd",
        "--param", 'quoted="50"', "--param", "nan=NaN", "--param", "eq=a=b", "--param", "empty=",
    )  # fmt: skip
    params = json_out(url, "show", "m", "1.0.0")["metadata"]["hyperparameters"]
    assert params == {
        "lr": 0.01, "layers": 50, "flag": True, "none": None, "sizes": [1, 2], "opt": {"name": "sgd"},
        "optimizer": "sgd", "quoted": "50", "nan": "NaN", "eq": "a=b", "empty": "",
    }  # fmt: skip
    assert isinstance(params["layers"], int)


@pytest.mark.parametrize(("param", "words"), [
    ("n=1e-400", "too small"), ("n=-2.5e-330", "too small"), ("n=1e400", "too large"), ("n=[1, 1e-400]", "too small"),
    ('n={"a": 1, "a": 2}', "appears twice"),
])
def test_a_param_that_is_json_but_cannot_be_stored_exactly_is_a_usage_error(url: str, param: str, words: str) -> None:
    result = run(url, "register", "m", "1.0.0", "--artifact", "a", "--param", param)
    assert result.exit_code == 2, result.stderr
    assert "--param" in result.stderr and words in result.stderr and "quote it" in result.stderr
    assert json_out(url, "models") == []


def test_a_quoted_param_keeps_such_a_number_as_text(url: str) -> None:
    register(url, "m", "1.0.0", "--param", 'n="1e-400"')
    assert json_out(url, "show", "m", "1.0.0")["metadata"]["hyperparameters"] == {"n": "1e-400"}


def test_register_metrics_must_be_numbers(url: str) -> None:
    register(url, "m", "1.0.0", "--metric", "top1=0.761", "--metric", "count=3", "--metric", "tiny=1e-9")
    metrics = json_out(url, "show", "m", "1.0.0")["metadata"]["performance_metrics"]
    assert metrics == {"top1": 0.761, "count": 3.0, "tiny": 1e-9}


@pytest.mark.parametrize("value", ["abc", "nan", "inf", "-Infinity", "", "1,5", "1e400", "1e-400", "-2.5e-330"])
def test_a_metric_that_is_not_a_finite_number_is_a_usage_error(url: str, value: str) -> None:
    result = run(url, "register", "m", "1.0.0", "--artifact", "a", "--metric", f"top1={value}")
    assert result.exit_code == 2
    assert "--metric" in result.stderr and "top1" in result.stderr
    assert json_out(url, "models") == []


@pytest.mark.parametrize("option", ["--metric", "--param", "--tag"])
def test_a_pair_without_equals_sign_is_a_usage_error(url: str, option: str) -> None:
    result = run(url, "register", "m", "1.0.0", "--artifact", "a", option, "lr")
    assert result.exit_code == 2
    assert "is not KEY=VALUE" in result.stderr


def test_a_key_given_twice_is_refused_not_overwritten(url: str) -> None:
    result = run(url, "register", "m", "1.0.0", "--artifact", "a", "--param", "lr=1", "--param", "lr=2")
    assert result.exit_code == 2
    assert "'lr' is given more than once" in result.stderr


def test_trained_at_defaults_to_now_in_utc(url: str) -> None:
    before = datetime.now(UTC)
    register(url, "m", "1.0.0")
    after = datetime.now(UTC)
    stored = datetime.fromisoformat(json_out(url, "show", "m", "1.0.0")["metadata"]["training_date"])
    assert stored.utcoffset() is not None and stored.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert before <= stored <= after


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("2026-01-05T12:30:00Z", "2026-01-05T12:30:00+00:00"),
        ("2026-01-05T12:30:00-05:00", "2026-01-05T17:30:00+00:00"),
        ("2026-01-05", "2026-01-05T00:00:00+00:00"),
    ],
)
def test_trained_at_accepts_rfc_3339(url: str, given: str, stored: str) -> None:
    register(url, "m", "1.0.0", "--trained-at", given)
    assert json_out(url, "show", "m", "1.0.0")["metadata"]["training_date"] == stored


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "05/01/2026", "", "2026-01-05T12:30:00"])
def test_a_bad_trained_at_is_a_usage_error(url: str, value: str) -> None:
    result = run(url, "register", "m", "1.0.0", "--artifact", "a", "--trained-at", value)
    assert result.exit_code == 2
    assert "--trained-at" in result.stderr and "RFC 3339" in result.stderr


def test_register_without_an_artifact_is_a_usage_error(url: str) -> None:
    result = run(url, "register", "m", "1.0.0")
    assert result.exit_code == 2
    assert "missing --artifact" in result.stderr


def test_metadata_the_registry_refuses_exits_5_and_stores_nothing(url: str) -> None:
    line = one_error_line(fails(url, "register", "m", "1.0.0", "--artifact", "a", "--tag", f"t={'x' * 2000}", code=5))
    assert "limit is 1024" in line
    line = one_error_line(fails(url, "register", "m", "1.0.0", "--artifact", "a", "--metric", f"n={2**60 + 1}", code=5))
    assert "exactly" in line
    assert json_out(url, "models") == []


def test_register_from_a_json_file_with_options_overriding_its_fields(url: str, tmp_path: Path) -> None:
    path = tmp_path / "meta.json"
    path.write_text(json.dumps({
        "artifact_path": "s3://from-file",
        "training_date": "2026-01-05T00:00:00+00:00",
        "hyperparameters": {"lr": 0.1, "layers": 50},
        "performance_metrics": {"top1": 0.5},
        "description": "from the file",
        "tags": {"team": "vision"},
        "version": "9.9.9",  # the VERSION argument wins
    }))  # fmt: skip
    register(url, "m", "1.0.0", "--from-file", str(path), "--param", "lr=0.2", "--tag", "stage=dev")
    meta = json_out(url, "show", "m", "1.0.0")["metadata"]
    assert meta == {
        "version": "1.0.0",
        "training_date": "2026-01-05T00:00:00+00:00",
        "hyperparameters": {"lr": 0.2, "layers": 50},
        "performance_metrics": {"top1": 0.5},
        "artifact_path": "s3://models/m/1.0.0",  # --artifact given by register() overrides the file
        "description": "from the file",
        "tags": {"team": "vision", "stage": "dev"},
    }


def test_show_json_metadata_registers_again_from_a_file(url: str, tmp_path: Path) -> None:
    register(url, "m", "1.0.0", "--metric", "top1=0.761", "--param", "sizes=[1,2]", "--tag", "a=b")
    original = json_out(url, "show", "m", "1.0.0")["metadata"]
    (tmp_path / "meta.json").write_text(json.dumps(original))
    ok(url, "register", "m", "1.0.1", "--from-file", str(tmp_path / "meta.json"))
    copy = json_out(url, "show", "m", "1.0.1")["metadata"]
    assert copy == {**original, "version": "1.0.1"}


def test_register_from_a_yaml_file(url: str, tmp_path: Path) -> None:
    path = tmp_path / "meta.yaml"
    path.write_text(
        "artifact_path: s3://models/m/1.0.0\n"
        "training_date: 2026-01-05T12:30:00Z\n"  # unquoted: YAML reads a datetime
        "hyperparameters:\n  lr: 0.01\n  optimizer: sgd\n"
        "performance_metrics:\n  top1: 0.761\n"
    )
    ok(url, "register", "m", "1.0.0", "--from-file", str(path))
    meta = json_out(url, "show", "m", "1.0.0")["metadata"]
    assert meta["training_date"] == "2026-01-05T12:30:00+00:00"
    assert meta["hyperparameters"] == {"lr": 0.01, "optimizer": "sgd"}
    assert meta["performance_metrics"] == {"top1": 0.761}


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("meta.json", "{not json", "is not valid JSON"),
        ("meta.json", "[1, 2]", "must hold an object of metadata fields"),
        ("meta.json", '{"artifact_path": "a", "x": NaN}', "is not valid JSON"),
        ("meta.json", '{"artifact_path": "a", "artifact_path": "b"}', "appears twice"),
        ("meta.json", '{"artifact_path": "a", "performance_metrics": {"x": 1e-400}}', "too small"),
        ("meta.yaml", "artifact_path: a\nperformance_metrics:\n  x: 1.5e-400\n", "too small"),
        ("meta.yaml", "artifact_path: a\nartifact_path: b\n", "appears twice"),
        ("meta.txt", "{}", "is not a .json, .yaml or .yml file"),
        ("meta.json", b"\xff\xfe{}", "is not UTF-8 text"),
        ("meta.json", '{"artifact_path": "a", "tags": [1]}', "tags in the file must be an object"),
    ],
)
def test_a_bad_metadata_file_is_a_usage_error(
    url: str, tmp_path: Path, filename: str, content: str | bytes, message: str
) -> None:
    path = tmp_path / filename
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = run(url, "register", "m", "1.0.0", "--from-file", str(path), "--tag", "a=b")
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr and "--from-file" in result.stderr


def test_an_unknown_field_in_a_metadata_file_exits_5(url: str, tmp_path: Path) -> None:
    path = tmp_path / "meta.json"
    path.write_text('{"artifact_path": "a", "accuracy": 0.9}')
    line = one_error_line(fails(url, "register", "m", "1.0.0", "--from-file", str(path), code=5))
    assert "unknown field(s) 'accuracy'" in line


# -- errors and exit codes ----------------------------------------------------------


def test_a_duplicate_version_exits_4_and_keeps_the_first(url: str) -> None:
    register(url, "m", "1.0.0", "--tag", "first=yes")
    line = one_error_line(fails(url, "register", "m", "v1.0.0+other", "--artifact", "b", code=4))
    assert "already has version '1.0.0'" in line
    assert json_out(url, "show", "m", "1.0.0")["metadata"]["tags"] == {"first": "yes"}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("show", "m", "1.0"), 5, "invalid version '1.0'"),
        (("show", "m", "01.0.0"), 5, "invalid version"),
        (("show", "bad name", "1.0.0"), 5, "invalid model name 'bad name'"),
        (("register", "-m", "1.0.0", "--artifact", "a"), 2, "No such option"),
        (("register", "m/x", "1.0.0", "--artifact", "a"), 5, "invalid model name"),
        (("show", "m", "2.0.0"), 3, "has no version '2.0.0'"),
        (("show", "nosuch", "1.0.0"), 3, "has no version"),
        (("unregister", "m", "2.0.0"), 3, "has no version '2.0.0'"),
        (("resolve", "m", "^2"), 3, "no version matching '^2'"),
        (("resolve", "m", ">>1"), 5, "invalid spec"),
        (("alias", "rm", "m", "production"), 3, "has no alias 'production'"),
        (("alias", "set", "m", "production", "2.0.0"), 3, "has no version"),
        (("alias", "set", "m", "v1", "1.0.0"), 5, "invalid alias 'v1'"),
        (("alias", "ls", "bad name"), 5, "invalid model name"),
        (("history", "bad name"), 5, "invalid model name"),
    ],
)
def test_each_kind_of_mistake_gets_its_exit_code_and_a_clear_message(
    url: str, args: tuple[str, ...], code: int, message: str
) -> None:
    register(url, "m", "1.0.0")
    result = run(url, *args)
    assert result.exit_code == code, (result.exit_code, result.stderr)
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    if code != 2:
        one_error_line(result.stderr)


def test_an_unsupported_registry_url_exits_1() -> None:
    line = one_error_line(fails("ftp://example.com/reg", "models", code=1))
    assert "unsupported registry URL" in line


def test_a_store_that_cannot_be_opened_exits_6(tmp_path: Path) -> None:
    (tmp_path / "not-a-dir").write_text("a file where a directory should be")
    line = one_error_line(fails(f"sqlite:///{tmp_path / 'not-a-dir' / 'reg.db'}", "models", code=6))
    assert "not-a-dir" in line


def test_every_error_class_has_an_exit_code_documented_in_docs_cli_md() -> None:
    rows = re.finditer(r"^\|\s*`(\w+Error)`[^|]*\|\s*(\d+)\s*\|", DOCS.read_text(encoding="utf-8"), re.MULTILINE)
    table = {row.group(1): int(row.group(2)) for row in rows}
    for cls in ERROR_CLASSES:
        error = cls("x")
        assert table.get(cls.__name__) == exit_code_for(error), cls.__name__
    assert len(set(table.values())) >= 5  # distinct codes per kind, not one for all


# -- unregister, resolve, aliases, history ---------------------------------------------


def test_unregister_refuses_a_version_an_alias_points_at_unless_forced(url: str) -> None:
    register(url, "m", "1.0.0")
    register(url, "m", "1.1.0")
    ok(url, "alias", "set", "m", "production", "1.0.0")
    line = one_error_line(fails(url, "unregister", "m", "1.0.0", code=4))
    assert "production" in line and "--force" in line
    assert json_out(url, "unregister", "m", "1.0.0", "--force") == {
        "name": "m", "version": "1.0.0", "unregistered": True,
    }  # fmt: skip
    assert json_out(url, "versions", "m") == {"name": "m", "versions": ["1.1.0"], "aliases": {}}
    assert ok(url, "unregister", "m", "v1.1.0").stdout == "unregistered m 1.1.0\n"
    assert json_out(url, "models") == []


def test_resolve_prints_the_version_and_with_json_its_metadata(url: str) -> None:
    for version in ("1.2.0", "1.3.0", "2.0.0-rc.1"):
        register(url, "m", version)
    ok(url, "alias", "set", "m", "production", "1.2.0")
    assert ok(url, "resolve", "m", "^1.2").stdout == "1.3.0\n"
    assert ok(url, "resolve", "m", "latest").stdout == "1.3.0\n"
    assert ok(url, "resolve", "m", "production").stdout == "1.2.0\n"
    doc = json_out(url, "resolve", "m", "production")
    assert doc["spec"] == "production" and doc["version"] == "1.2.0" and doc["aliases"] == ["production"]
    assert doc["metadata"]["artifact_path"] == "s3://models/m/1.2.0"


def test_alias_set_moves_the_alias_and_ls_and_rm_follow(url: str) -> None:
    register(url, "m", "1.0.0")
    register(url, "m", "1.1.0")
    assert ok(url, "alias", "set", "m", "production", "v1.0.0").stdout == "m production -> 1.0.0\n"
    assert json_out(url, "alias", "set", "m", "production", "1.1.0") == {
        "name": "m", "alias": "production", "version": "1.1.0",
    }  # fmt: skip
    ok(url, "alias", "set", "m", "staging", "1.0.0")
    assert json_out(url, "alias", "ls", "m") == {"name": "m", "aliases": {"production": "1.1.0", "staging": "1.0.0"}}
    lines = ok(url, "alias", "ls", "m").stdout.splitlines()
    assert [line.split() for line in lines] == [["ALIAS", "VERSION"], ["production", "1.1.0"], ["staging", "1.0.0"]]
    assert json_out(url, "alias", "rm", "m", "staging") == {"name": "m", "alias": "staging", "removed": True}
    assert json_out(url, "alias", "ls", "m")["aliases"] == {"production": "1.1.0"}


def test_history_lists_a_models_changes_oldest_first(url: str) -> None:
    register(url, "m", "1.0.0")
    register(url, "other", "1.0.0")
    ok(url, "alias", "set", "m", "production", "1.0.0")
    ok(url, "unregister", "m", "1.0.0", "--force")
    events = json_out(url, "history", "m")
    assert [(e["kind"], e["version"], e["alias"]) for e in events] == [
        ("registered", "1.0.0", None),
        ("alias_set", "1.0.0", "production"),
        ("alias_removed", "1.0.0", "production"),
        ("unregistered", "1.0.0", None),
    ]
    assert [e["revision"] for e in events] == sorted(e["revision"] for e in events)
    lines = ok(url, "history", "m").stdout.splitlines()
    assert lines[0].split() == ["REV", "AT", "KIND", "VERSION", "ALIAS", "ACTOR"]
    assert [line.split()[2] for line in lines[1:]] == ["registered", "alias_set", "alias_removed", "unregistered"]


def test_history_of_an_unknown_model_exits_3_like_versions(url: str) -> None:
    register(url, "m", "1.0.0")
    assert "'nosuch' has no versions" in one_error_line(fails(url, "versions", "nosuch", code=3))
    assert "'nosuch' has no history" in one_error_line(fails(url, "history", "nosuch", code=3))
    assert "'nosuch' has no history" in one_error_line(fails(url, "--json", "history", "nosuch", code=3))


def test_history_of_a_model_whose_versions_are_gone_still_lists_it(url: str) -> None:
    register(url, "m", "1.0.0")
    ok(url, "unregister", "m", "1.0.0")
    assert [e["kind"] for e in json_out(url, "history", "m")] == ["registered", "unregistered"]


def test_history_filters_by_version_and_kind(url: str) -> None:
    register(url, "m", "1.0.0+b1")
    register(url, "m", "1.1.0")
    ok(url, "alias", "set", "m", "production", "1.0.0")
    ok(url, "alias", "set", "m", "production", "1.1.0")

    moves = json_out(url, "history", "m", "--kind", "alias_set", "--kind", "alias_removed")
    mine = json_out(url, "history", "m", "--version", "1.0.0")
    both = json_out(url, "history", "m", "--version", "1.1.0", "--kind", "alias_set")

    assert [(e["kind"], e["version"]) for e in moves] == [("alias_set", "1.0.0+b1"), ("alias_set", "1.1.0")]
    assert [(e["kind"], e["version"]) for e in mine] == [("registered", "1.0.0+b1"), ("alias_set", "1.0.0+b1")]
    assert [(e["kind"], e["version"]) for e in both] == [("alias_set", "1.1.0")]
    assert json_out(url, "history", "m", "--kind", "unregistered") == []
    assert "invalid value for '--kind'" in fails(url, "history", "m", "--kind", "moved", code=2).lower()


def test_resolve_of_a_missing_alias_says_no_alias_version_or_range_matched(url: str) -> None:
    register(url, "m", "1.0.0")
    line = one_error_line(fails(url, "resolve", "m", "production", code=3))
    assert "no alias 'production'" in line and "not a version or range" in line


# -- global options -------------------------------------------------------------------


def test_json_may_follow_the_command_name(url: str) -> None:
    register(url, "m", "1.0.0")
    assert json.loads(ok(url, "versions", "m", "--json").stdout)["versions"] == ["1.0.0"]
    assert json.loads(ok(url, "alias", "ls", "m", "--json").stdout) == {"name": "m", "aliases": {}}


def test_the_registry_url_comes_from_modelreg_url(url: str) -> None:
    ok(None, "register", "m", "1.0.0", "--artifact", "a", env={"MODELREG_URL": url})
    assert json_out(url, "versions", "m")["versions"] == ["1.0.0"]


def test_the_default_registry_is_an_sqlite_file_in_the_data_directory(tmp_path: Path) -> None:
    ok(None, "register", "m", "1.0.0", "--artifact", "a", env={"XDG_DATA_HOME": str(tmp_path)})
    database = tmp_path / "modelreg" / "registry.db"
    assert database.is_file()
    assert json_out(f"sqlite:///{database}", "models") == [{"name": "m", "versions": 1}]


def test_a_token_is_not_passed_to_a_non_http_registry(url: str) -> None:
    # SqliteRegistry takes no token= argument: passing it along would fail.
    register(url, "m", "1.0.0")
    assert json_out(url, "--token", "secret", "models")[0]["name"] == "m"
    assert run(url, "models", env={"MODELREG_TOKEN": "secret"}).exit_code == 0


def test_messages_show_the_registry_url_without_its_password() -> None:
    session = Session(url="postgresql://alice:hunter2@db.internal/registry")
    assert session.display_url == "postgresql://alice:***@db.internal/registry"
    assert Session(url="sqlite:///reg.db").display_url == "sqlite:///reg.db"


@pytest.mark.parametrize("token", ["ab ", "\u00e9"])
def test_a_token_no_server_could_accept_is_a_usage_error_not_an_unreachable_server(token: str) -> None:
    line = one_error_line(fails("http://127.0.0.1:9", "--token", token, "models", code=2))
    assert "invalid token" in line and "cannot reach" not in line


def test_watch_since_on_a_registry_without_an_event_log_is_a_usage_error() -> None:
    result = run("memory://", "watch", "--since", "0")
    assert result.exit_code == 2
    assert "--since needs a registry that keeps an event log" in result.stderr


def test_watch_since_a_revision_the_store_has_not_reached_exits_1_rather_than_skip_changes(url: str) -> None:
    assert register(url).exit_code == 0
    line = one_error_line(fails(url, "watch", "--since", "5", code=1))
    assert line.startswith("error: this store (id ") and "is at revision 1, so it has no revision 5" in line
    assert "--since 1 or less" in line


def test_watch_since_older_than_the_log_reaches_is_a_usage_error_with_the_logs_message() -> None:
    from modelreg.cli import _watch

    registry = MemoryRegistry(history_limit=2)  # as a server over memory:// keeps only its latest events
    for minor in range(4):
        registry.register_model("m", f"1.{minor}.0", ModelMetadata(training_date=datetime(2026, 1, 5, tzinfo=UTC),
                                                                   artifact_path="s3://m"))
    with pytest.raises(EventsUnavailableError) as gone:
        registry.events_after(0)
    with pytest.raises(click.UsageError) as refused:
        list(_watch._replay(registry.events_after, 0))
    assert refused.value.message == str(gone.value) and refused.value.exit_code == 2
    assert [e.revision for e in _watch._replay(registry.events_after, 2)] == [3, 4]  # what it holds still replays


@pytest.mark.parametrize("url", ["http://127.0.0.1:8600", "https://registry.example:8600"])
def test_serve_refuses_another_server_as_its_store(url: str) -> None:
    error = fails(url, "serve", "--port", "0", code=2)
    assert f"serve needs a store, not another server: the registry is {url}" in one_error_line(error)


def test_serve_refuses_modelreg_url_left_pointing_at_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELREG_URL", "http://127.0.0.1:8600")  # as a client shell has it: serve would wait on itself
    with pytest.raises(ValueError, match=r"\$MODELREG_URL is http://127.0.0.1:8600. Pass one with --registry"):
        serve(port=0)


def test_serve_refuses_a_store_timeout_for_a_registry_that_has_no_store() -> None:
    error = fails("memory://", "serve", "--port", "0", "--store-timeout", "1", code=2)
    assert "store_timeout applies to sqlite:/// and postgresql:// registries, not memory://" in one_error_line(error)
