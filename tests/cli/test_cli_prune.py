"""``modelreg prune``: listing, --apply, --older-than, --json and bad options, against real SQLite files."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from modelreg.cli.app import cli
from support.clirun import CLEAN_ENV, json_out, ok, run
from support.serverkit import TOKENS, StartServer

_PLAIN = {**CLEAN_ENV, "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "NO_COLOR": None}


@pytest.fixture
def url(tmp_path: Path) -> str:
    """resnet50 at 0.9.0, 1.0.0 (production), 1.1.0, 2.0.0-rc.1, 2.0.0, and bert at 1.0.0."""
    url = f"sqlite:///{tmp_path / 'reg.db'}"
    for version in ("1.0.0", "1.1.0", "2.0.0-rc.1", "2.0.0", "0.9.0"):
        ok(url, "register", "resnet50", version, "--artifact", f"s3://r/{version}")
    ok(url, "register", "bert", "1.0.0", "--artifact", "s3://b/1")
    ok(url, "alias", "set", "resnet50", "production", "1.0.0")
    return url


def plain(url: str, *args: str, env: dict[str, str | None] | None = None) -> Result:
    """``modelreg --registry URL ARGS`` with no colour forced by the environment."""
    return CliRunner(env=env or _PLAIN).invoke(cli, ["--registry", url, *args], catch_exceptions=False)


def test_prune_without_apply_only_lists_and_says_so(url: str) -> None:
    before = json_out(url, "history", "resnet50")

    result = plain(url, "prune", "--keep-latest", "2")

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "REGISTERED", "STATUS"]
    assert [line.split()[:2] for line in lines[1:3]] == [["resnet50", "0.9.0"], ["resnet50", "1.1.0"]]
    assert all(line.endswith("would remove") for line in lines[1:3])
    summary = [line.split() for line in lines[3:] if line.strip() and not set(line.strip()) <= {"─", "-"}]
    assert summary == [["MODEL", "VERSIONS", "WOULD", "REMOVE", "SKIPPED"], ["resnet50", "5", "2", "0"]]
    assert "dry run: nothing removed; add --apply to remove these 2 versions" in result.stderr
    assert json_out(url, "history", "resnet50") == before


def test_prune_apply_removes_them_as_unregistered_events_and_prints_a_summary(url: str) -> None:
    result = plain(url, "prune", "--keep-latest", "2", "--apply")

    assert result.exit_code == 0, result.stderr
    assert "removed 2 versions" in result.stderr
    assert [line.split()[-1] for line in result.stdout.splitlines()[1:3]] == ["removed", "removed"]
    assert "REMOVED" in result.stdout
    versions = json_out(url, "versions", "resnet50")["versions"]
    assert versions == ["1.0.0", "2.0.0-rc.1", "2.0.0"]  # production's 1.0.0 stays; the prerelease counts
    events = json_out(url, "history", "resnet50", "--kind", "unregistered")
    assert [e["version"] for e in events] == ["0.9.0", "1.1.0"]


def test_prune_json_lists_each_version_with_its_status_and_each_model(url: str) -> None:
    listed = json_out(url, "prune", "resnet50", "--keep-latest", "3")
    assert listed["applied"] is False and listed["keep_latest"] == 3 and listed["older_than"] is None
    assert [(v["name"], v["version"], v["status"]) for v in listed["versions"]] == [
        ("resnet50", "0.9.0", "would_remove"),
    ]
    assert datetime.fromisoformat(listed["versions"][0]["registered_at"]).tzinfo is not None
    assert listed["models"] == [{"name": "resnet50", "versions": 5, "removed": 1, "skipped": 0}]

    applied = json_out(url, "prune", "resnet50", "--keep-latest", "3", "--apply")
    assert applied["applied"] is True
    assert [v["status"] for v in applied["versions"]] == ["removed"]
    assert json_out(url, "prune", "--keep-latest", "3") == {
        "applied": False, "keep_latest": 3, "older_than": None, "versions": [], "models": [],
    }


def test_prune_older_than_takes_a_duration_or_an_rfc3339_time(url: str) -> None:
    assert json_out(url, "prune", "--keep-latest", "0", "--older-than", "30d")["versions"] == []
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert plain(url, "prune", "--older-than", soon).exit_code == 2  # in the future
    past = json_out(url, "prune", "--keep-latest", "0", "--older-than", "0s")
    assert [v["version"] for v in past["versions"] if v["name"] == "resnet50"] == ["0.9.0", "1.1.0", "2.0.0-rc.1",
                                                                                 "2.0.0"]
    cutoff = datetime.fromisoformat(past["older_than"])
    assert abs(datetime.now(UTC) - cutoff) < timedelta(minutes=5)


def test_nothing_to_prune_is_said_on_stderr_with_an_empty_stdout(url: str) -> None:
    result = plain(url, "prune", "bert")
    assert (result.exit_code, result.stdout) == (0, "")
    assert "nothing to prune" in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--keep-latest", "-1"], 2, "'--keep-latest': -1 is not in the range x>=0"),
        (["--keep-latest", "many"], 2, "'many' is not a valid integer"),
        (["--older-than", "5x"], 2, "'5x' is not a duration: expected a whole number and a unit"),
        (["--older-than", "2026-01-05T12:00"], 2, "has no seconds"),
        (["--older-than", "2999-01-01"], 2, "is in the future"),
        (["bad name!"], 5, "invalid model name"),
        (["nope"], 3, "model 'nope' has no versions, so there is nothing to prune"),
    ],
)
def test_bad_options_are_one_line_errors_that_change_nothing(url: str, args: list[str], code: int, says: str) -> None:
    before = json_out(url, "history", "resnet50")

    result = run(url, "prune", *args, "--apply")

    assert result.exit_code == code, (result.stdout, result.stderr)
    assert says in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""
    assert json_out(url, "history", "resnet50") == before


def test_a_long_run_on_a_terminal_shows_a_progress_bar_on_stderr(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'big.db'}"
    for patch in range(25):
        ok(url, "register", "m", f"1.0.{patch}", "--artifact", "s3://m")

    result = plain(url, "--json", "prune", "--keep-latest", "1", "--apply", env={**_PLAIN, "TTY_COMPATIBLE": "1"})

    assert result.exit_code == 0, result.stderr
    assert "pruning" in result.stderr
    assert len(json.loads(result.stdout)["versions"]) == 24  # the bar never reaches stdout


def test_prune_over_a_real_server_removes_as_the_tokens_actor(
    start_server: StartServer, tokens_file: Path, tmp_path: Path
) -> None:
    server = start_server(tokens_file=str(tokens_file))
    writer, reader = TOKENS["writer"][1], TOKENS["reader"][1]
    for version in ("1.0.0", "1.1.0", "2.0.0"):
        ok(server.url, "--token", writer, "register", "m", version, "--artifact", "s3://m")

    refused = run(server.url, "--token", reader, "prune", "--keep-latest", "1", "--apply")
    assert refused.exit_code == 7 and refused.stdout == ""  # a reader may list, not remove
    assert "prune stopped after removing 0 of 2 versions" in refused.stderr
    assert json_out(server.url, "--token", reader, "prune", "--keep-latest", "1")["models"][0]["removed"] == 2
    applied = json_out(server.url, "--token", writer, "prune", "--keep-latest", "1", "--apply")

    assert [(v["version"], v["status"]) for v in applied["versions"]] == [("1.0.0", "removed"), ("1.1.0", "removed")]
    events = json_out(server.url, "--token", reader, "history", "m", "--kind", "unregistered")
    assert [(e["version"], e["actor"]) for e in events] == [("1.0.0", "writer"), ("1.1.0", "writer")]
