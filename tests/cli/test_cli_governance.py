"""``modelreg policy`` and ``modelreg promote``: alias policies and promotions, against real SQLite files.

Each refusal is checked for its one-line message, its exit code and that nothing changed
(the model's history, the requests and the aliases are as before).
"""

from __future__ import annotations

import json
import re
import shlex
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from modelreg.cli._context import exit_code_for
from modelreg.cli._output import event_line
from modelreg.cli.app import cli
from modelreg.errors import InvalidPolicyError, PolicyError, PolicyNotFoundError, PromotionNotFoundError
from modelreg.events import RegistryEvent, freeze_detail
from support.serverkit import StartServer

ENV: dict[str, str | None] = {"MODELREG_URL": None, "MODELREG_TOKEN": None, "MODELREG_ACTOR": None,
                              "COLUMNS": "160", "FORCE_COLOR": None, "NO_COLOR": None, "TTY_COMPATIBLE": None}
GATES = ("--require", "metrics.top1 >= 0.75", "--require", "metrics.latency_ms <= 15",
         "--require", "not version satisfies '<1.0.0'", "--must-not-regress", "metrics.top1")


def run(url: str, *args: str, env: dict[str, str] | None = None) -> Result:
    """``modelreg --registry URL ARGS``; exceptions other than exits propagate (a traceback is a bug)."""
    return CliRunner(env={**ENV, **(env or {})}).invoke(cli, ["--registry", url, *args], catch_exceptions=False)


def ok(url: str, *args: str, env: dict[str, str] | None = None) -> Result:
    result = run(url, *args, env=env)
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result


def json_out(url: str, *args: str, env: dict[str, str] | None = None) -> Any:
    return json.loads(ok(url, "--json", *args, env=env).stdout)


def fails(url: str, *args: str, code: int, env: dict[str, str] | None = None) -> str:
    """Run a command that must fail with ``code`` and print nothing on stdout; return its stderr."""
    result = run(url, *args, env=env)
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    return result.stderr


def error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


def state(url: str) -> tuple[Any, ...]:
    """Everything a refused command must leave as it was: history, aliases, requests."""
    return (json_out(url, "history", "resnet50"), json_out(url, "alias", "ls", "resnet50"),
            json_out(url, "promote", "ls"))


@pytest.fixture
def url(tmp_path: Path) -> str:
    """resnet50 0.9.0, 1.4.2 (production), 1.5.0, 1.6.0 (top1 too low), 1.7.0 (too slow)."""
    url = f"sqlite:///{tmp_path / 'reg.db'}"
    for version, top1, latency in (("0.9.0", 0.9, 5), ("1.4.2", 0.76, 12), ("1.5.0", 0.78, 11),
                                   ("1.6.0", 0.70, 10), ("1.7.0", 0.80, 20)):
        ok(url, "register", "resnet50", version, "--artifact", f"s3://m/{version}",
           "--metric", f"top1={top1}", "--metric", f"latency_ms={latency}")
    ok(url, "alias", "set", "resnet50", "production", "1.4.2")
    return url


@pytest.fixture
def governed(url: str) -> str:
    """``url`` with production's policy: the three gates, no regression on top1, two approvals."""
    ok(url, "policy", "set", "resnet50", "production", *GATES, "--approvals", "2", "--actor", "ops")
    return url


def request(url: str, version: str = "1.5.0", *extra: str) -> dict[str, Any]:
    found: dict[str, Any] = json_out(url, "promote", "request", "resnet50", "production", version,
                                     "--actor", "ci", *extra)
    return found


# -- exit codes -----------------------------------------------------------------------------------------------


def test_a_policy_refusal_has_its_own_exit_code_and_missing_policies_and_requests_exit_3() -> None:
    assert exit_code_for(PolicyError("x")) == 8
    assert {exit_code_for(PolicyError("x")), exit_code_for(InvalidPolicyError("x"))} == {8, 5}
    assert exit_code_for(PolicyNotFoundError("x")) == exit_code_for(PromotionNotFoundError("x")) == 3


# -- policy set | show | rm -----------------------------------------------------------------------------------


def test_policy_set_stores_the_policy_and_show_prints_it_as_a_table_and_json(url: str) -> None:
    result = ok(url, "policy", "set", "resnet50", "production", *GATES, "--approvals", "2", "--actor", "ops")
    assert "policy of resnet50 production set" in result.stderr
    rows = [line.split(None, 1) if not line.startswith("must") else ["must not regress", line[18:]]
            for line in ok(url, "policy", "show", "resnet50", "production").stdout.splitlines()]
    assert rows == [["RULE", "VALUE"], ["require", "metrics.top1 >= 0.75"], ["require", "metrics.latency_ms <= 15"],
                    ["require", "not version satisfies '<1.0.0'"],
                    ["must not regress", "metrics.top1 (higher is better)"], ["approvals", "2"]]
    assert json_out(url, "policy", "show", "resnet50", "production") == {
        "name": "resnet50", "alias": "production",
        "policy": {"require": ["metrics.top1 >= 0.75", "metrics.latency_ms <= 15", "not version satisfies '<1.0.0'"],
                   "must_not_regress": ["metrics.top1"], "approvals": 2},
    }
    (event,) = json_out(url, "history", "resnet50", "--kind", "policy_set")
    assert (event["alias"], event["actor"], event["detail"]["approvals"]) == ("production", "ops", 2)


def test_policy_set_reads_a_json_or_yaml_file_and_options_replace_its_fields(url: str, tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text(json.dumps({"require": ["metrics.top1 >= 0.7"], "approvals": 1}))
    (tmp_path / "p.yaml").write_text("require:\n  - metrics.top1 >= 0.8\nmust_not_regress:\n"
                                     "  - metrics.latency_ms desc\napprovals: 3\n")
    got = json_out(url, "policy", "set", "resnet50", "production", "--from-file", str(tmp_path / "p.json"),
                   "--approvals", "0")
    assert got["policy"] == {"require": ["metrics.top1 >= 0.7"], "must_not_regress": [], "approvals": 0}
    got = json_out(url, "policy", "set", "resnet50", "staging", "--from-file", str(tmp_path / "p.yaml"),
                   "--require", "metrics.top1 >= 0.5")
    assert got["policy"] == {"require": ["metrics.top1 >= 0.5"], "must_not_regress": ["metrics.latency_ms desc"],
                             "approvals": 3}
    assert "(lower is better)" in ok(url, "policy", "show", "resnet50", "staging").stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ((), 2, "nothing to set: give --require, --must-not-regress, --approvals or --from-file"),
        (("--require", "metrics.top1 >="), 5, "require[0] 'metrics.top1 >=' is not a valid where expression"),
        (("--require", ""), 5, "require[0] '' is not a valid where expression"),
        (("--must-not-regress", "top1"), 5, "(write metrics.top1, not top1)"),
        (("--must-not-regress", "params.lr"), 5, "must_not_regress compares metrics"),
        (("--approvals", "-1"), 5, "approvals must be an int from 0 to 20, not -1"),
        (("--approvals", "21"), 5, "approvals must be an int from 0 to 20, not 21"),
        (("--approvals", "two"), 2, "'two' is not a valid integer"),
        (("--approvals", "1", "--actor", ""), 2, "invalid actor ''"),
    ],
)
def test_policy_set_refuses_a_policy_that_cannot_be_evaluated_and_changes_nothing(
    governed: str, args: tuple[str, ...], code: int, message: str
) -> None:
    before = state(governed)
    stderr = fails(governed, "policy", "set", "resnet50", "production", *args, code=code)
    assert message in " ".join(stderr.split())
    if code != 2:
        assert error_line(stderr)
    assert state(governed) == before
    assert json_out(governed, "policy", "show", "resnet50", "production")["policy"]["approvals"] == 2


@pytest.mark.parametrize(
    ("text", "suffix", "code", "message"),
    [
        ('{"approvals": 1, "owner": "x"}', ".json", 5, "unknown policy field(s) 'owner'"),
        ('["metrics.top1 >= 0.7"]', ".json", 2, "must hold an object of policy fields (require, must_not_regress"),
        ('{"require": "metrics.top1 >= 0.7"}', ".json", 5, "require must be a list of strings, not str"),
        ('{"approvals": 1, "approvals": 2}', ".json", 2, "not valid JSON"),
        ("approvals: true\n", ".yaml", 5, "approvals must be an int from 0 to 20, not True"),
        ("{}", ".txt", 2, "is not a .json, .yaml or .yml file"),
    ],
)
def test_policy_set_refuses_a_bad_policy_file_naming_what_is_wrong(
    url: str, tmp_path: Path, text: str, suffix: str, code: int, message: str
) -> None:
    path = tmp_path / f"policy{suffix}"
    path.write_text(text)
    before = state(url)
    stderr = fails(url, "policy", "set", "resnet50", "production", "--from-file", str(path), code=code)
    assert message in " ".join(stderr.split())
    assert state(url) == before
    assert fails(url, "policy", "show", "resnet50", "production", code=3)


def test_policy_show_and_rm_of_an_alias_without_a_policy_exit_3(url: str) -> None:
    assert "alias 'production' of resnet50 has no policy" in error_line(
        fails(url, "policy", "show", "resnet50", "production", code=3))
    assert "has no policy" in error_line(fails(url, "--json", "policy", "show", "resnet50", "production", code=3))
    before = state(url)
    assert "has no policy" in error_line(fails(url, "policy", "rm", "resnet50", "production", code=3))
    assert state(url) == before
    assert "invalid model name" in error_line(fails(url, "policy", "show", "bad name", "production", code=5))


def test_policy_rm_lifts_the_policy_so_set_alias_moves_it_again(governed: str) -> None:
    assert ok(governed, "policy", "rm", "resnet50", "production", "--actor", "ops").stdout == (
        "removed the policy of resnet50 production\n")
    assert fails(governed, "policy", "show", "resnet50", "production", code=3)
    ok(governed, "alias", "set", "resnet50", "production", "1.6.0")
    (event,) = json_out(governed, "history", "resnet50", "--kind", "policy_removed")
    assert (event["alias"], event["actor"]) == ("production", "ops")


# -- what a policy refuses elsewhere -------------------------------------------------------------------------


def test_alias_set_and_rm_of_a_protected_alias_exit_8_naming_the_promote_command(governed: str) -> None:
    before = state(governed)
    line = error_line(fails(governed, "alias", "set", "resnet50", "production", "1.5.0", code=8))
    assert "needs 2 approval(s)" in line and "modelreg promote request resnet50 production 1.5.0" in line
    assert "request_promotion" not in line  # the library's method name means nothing on the command line
    line = error_line(fails(governed, "alias", "rm", "resnet50", "production", code=8))
    assert "modelreg promote request resnet50 production --remove" in line and "request_promotion" not in line
    line = error_line(fails(governed, "unregister", "resnet50", "1.4.2", "--force", code=8))
    assert "protected by a policy" in line
    assert error_line(fails(governed, "model", "delete", "resnet50", "--force", code=8))
    assert state(governed) == before


def test_with_no_approvals_alias_set_moves_a_target_that_passes_and_refuses_one_that_fails(url: str) -> None:
    ok(url, "policy", "set", "resnet50", "production", *GATES, "--approvals", "0")
    before = state(url)
    line = error_line(fails(url, "alias", "set", "resnet50", "production", "1.6.0", code=8))
    assert "requires metrics.top1 >= 0.75 (metrics.top1 is 0.7)" in line
    assert state(url) == before
    assert ok(url, "alias", "set", "resnet50", "production", "1.5.0").stdout == "resnet50 production -> 1.5.0\n"


# -- promote request ------------------------------------------------------------------------------------------


def test_promote_request_waits_for_the_approvals_the_policy_asks_for(governed: str) -> None:
    result = ok(governed, "promote", "request", "resnet50", "production", "1.5.0", "--reason", "beats 1.4.2",
                "--actor", "ci")
    assert result.stdout == "requested promotion 1 (resnet50 production -> 1.5.0): approved 0/2, waiting for 2 more\n"
    (made,) = json_out(governed, "promote", "ls")
    assert {k: made[k] for k in ("id", "name", "alias", "version", "state", "requested_by", "reason", "approvals",
                                 "approvals_required")} == {
        "id": 1, "name": "resnet50", "alias": "production", "version": "1.5.0", "state": "pending",
        "requested_by": "ci", "reason": "beats 1.4.2", "approvals": [], "approvals_required": 2,
    }
    assert json_out(governed, "alias", "ls", "resnet50")["aliases"] == {"production": "1.4.2"}


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("1.6.0", "requires metrics.top1 >= 0.75 (metrics.top1 is 0.7); must not regress on metrics.top1: "
                  "1.6.0 has 0.7, worse than 0.76 of 1.4.2"),
        ("1.7.0", "requires metrics.latency_ms <= 15 (metrics.latency_ms is 20.0)"),
        ("0.9.0", "requires not version satisfies '<1.0.0' (version is 0.9.0)"),
        ("1.4.2", "points at 1.4.2 already: there is nothing to promote"),
    ],
)
def test_promote_request_of_a_target_failing_the_policy_exits_8_naming_each_failure(
    governed: str, version: str, message: str
) -> None:
    before = state(governed)
    line = error_line(fails(governed, "promote", "request", "resnet50", "production", version, "--actor", "ci",
                            code=8))
    assert message in line
    assert state(governed) == before


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("production",), 2, "give either VERSION (the alias's new target) or --remove, not both or neither"),
        (("production", "1.5.0", "--remove"), 2, "not both or neither"),
        (("production", "9.9.9"), 3, "9.9.9"),
        (("production", "not-a-version"), 5, "not-a-version"),
        (("staging", "--remove"), 3, "staging"),
        (("production", "1.5.0", "--reason", "x" * 2001), 5, "a reason is at most 2000 printable characters"),
        (("production", "1.5.0", "--actor", "a\x07b"), 2, "invalid actor"),
    ],
)
def test_promote_request_refuses_bad_input_and_records_nothing(
    governed: str, args: tuple[str, ...], code: int, message: str
) -> None:
    before = state(governed)
    stderr = fails(governed, "promote", "request", "resnet50", *args, code=code)
    assert message in " ".join(stderr.split())
    assert state(governed) == before


def test_promote_request_moves_at_once_when_no_approvals_are_needed(url: str) -> None:
    result = ok(url, "promote", "request", "resnet50", "staging", "1.5.0", "--actor", "ci")
    assert result.stdout == "approved: resnet50 staging now -> 1.5.0 (promotion 1, no approvals needed)\n"
    assert json_out(url, "alias", "ls", "resnet50")["aliases"] == {"production": "1.4.2", "staging": "1.5.0"}
    got = json_out(url, "promote", "request", "resnet50", "staging", "--remove", "--actor", "ci")
    assert (got["id"], got["version"], got["state"], got["approvals_required"]) == (2, None, "approved", 0)
    assert json_out(url, "alias", "ls", "resnet50")["aliases"] == {"production": "1.4.2"}


# -- promote approve | reject ---------------------------------------------------------------------------------


def test_two_others_approve_and_production_moves_at_the_second(governed: str) -> None:
    request(governed, "1.5.0", "--reason", "beats 1.4.2 on v2 eval")
    first = ok(governed, "promote", "approve", "1", "--actor", "alice")
    assert first.stdout == "approved promotion 1 (resnet50 production -> 1.5.0): approved 1/2, waiting for 1 more\n"
    assert json_out(governed, "alias", "ls", "resnet50")["aliases"] == {"production": "1.4.2"}
    second = ok(governed, "promote", "approve", "1", env={"MODELREG_ACTOR": "bob"})  # the environment names him
    assert second.stdout == "approved: resnet50 production now -> 1.5.0 (promotion 1, approved by alice, bob)\n"
    assert json_out(governed, "alias", "ls", "resnet50")["aliases"] == {"production": "1.5.0"}
    events = json_out(governed, "history", "resnet50")[-4:]
    assert [(e["kind"], e["actor"], (e.get("detail") or {}).get("final")) for e in events] == [
        ("promotion_requested", "ci", None), ("promotion_approved", "alice", False),
        ("promotion_approved", "bob", True), ("alias_set", "bob", None),
    ]


def test_approving_locally_without_an_actor_exits_8_pointing_at_the_actor_option(governed: str) -> None:
    request(governed)
    before = state(governed)
    line = error_line(fails(governed, "promote", "approve", "1", code=8))
    assert "pass --actor NAME or set $MODELREG_ACTOR" in line
    assert state(governed) == before


@pytest.mark.parametrize(
    ("actor", "number", "code", "message"),
    [
        ("ci", "1", 8, "ci requested promotion 1 and so cannot approve it"),
        ("alice", "1", 8, "alice has approved promotion 1 already; one actor counts once"),
        ("bob", "99", 3, "there is no promotion request 99"),
        ("bob", "0", 2, "0 is not in the range x>=1"),
        ("bob", "one", 2, "'one' is not a valid integer"),
    ],
)
def test_promote_approve_refuses_and_changes_nothing(
    governed: str, actor: str, number: str, code: int, message: str
) -> None:
    request(governed)
    ok(governed, "promote", "approve", "1", "--actor", "alice")
    before = state(governed)
    stderr = fails(governed, "promote", "approve", number, "--actor", actor, code=code)
    assert message in " ".join(stderr.split())
    assert state(governed) == before


def test_promote_reject_leaves_the_alias_and_a_decided_request_cannot_change(governed: str) -> None:
    request(governed)
    result = ok(governed, "promote", "reject", "1", "--reason", "latency regressed on v3", "--actor", "bob")
    assert result.stdout == "rejected promotion 1 (resnet50 production -> 1.5.0): resnet50 production stays at 1.4.2\n"
    (rejected,) = json_out(governed, "promote", "ls", "--state", "rejected")
    assert (rejected["decided_by"], rejected["decision_reason"]) == ("bob", "latency regressed on v3")
    before = state(governed)
    assert "is rejected already by bob" in error_line(
        fails(governed, "promote", "approve", "1", "--actor", "alice", code=8))
    assert "is rejected already" in error_line(fails(governed, "promote", "reject", "1", code=8))
    assert "there is no promotion request 5" in error_line(fails(governed, "promote", "reject", "5", code=3))
    assert state(governed) == before
    assert json_out(governed, "alias", "ls", "resnet50")["aliases"] == {"production": "1.4.2"}


def test_the_actor_option_is_refused_for_an_http_registry_whose_server_names_the_caller() -> None:
    url = "http://127.0.0.1:9"  # never contacted: the refusal comes first
    for args in (("promote", "approve", "1", "--actor", "alice"), ("promote", "request", "m", "prod", "1.0.0"),
                 ("policy", "rm", "m", "prod")):
        env = {"MODELREG_ACTOR": "alice"} if "--actor" not in args else None
        stderr = fails(url, *args, code=2, env=env)
        assert "names the caller by its token" in " ".join(stderr.split()), args


# -- promote ls -----------------------------------------------------------------------------------------------


def test_promote_ls_is_a_table_with_approvals_counted_against_the_current_policy(governed: str) -> None:
    request(governed, "1.5.0", "--reason", "beats 1.4.2")
    ok(governed, "promote", "approve", "1", "--actor", "alice")
    ok(governed, "alias", "set", "resnet50", "staging", "1.5.0")  # production's policy keeps a baseline: no removal
    ok(governed, "policy", "set", "resnet50", "staging", "--approvals", "2", "--actor", "ops")
    ok(governed, "promote", "request", "resnet50", "staging", "--remove", "--actor", "ci")
    ok(governed, "promote", "reject", "2", "--reason", "still needed", "--actor", "bob")
    ok(governed, "register", "bert", "1.0.0", "--artifact", "s3://b/1")
    ok(governed, "promote", "request", "bert", "staging", "1.0.0", "--actor", "ci")
    lines = [line.split() for line in ok(governed, "promote", "ls").stdout.splitlines()
             if line.strip() and not set(line.strip()) <= {"─", "-"}]
    assert lines == [
        ["ID", "MODEL", "ALIAS", "VERSION", "STATE", "REQUESTED", "BY", "APPROVALS", "REASON"],
        ["1", "resnet50", "production", "1.5.0", "pending", "ci", "1/2", "beats", "1.4.2"],
        ["2", "resnet50", "staging", "(remove)", "rejected", "ci", "0/2", "(rejected:", "still", "needed)"],
        ["3", "bert", "staging", "1.0.0", "approved", "ci", "0/0"],
    ]
    assert [r["id"] for r in json_out(governed, "promote", "ls", "resnet50")] == [1, 2]
    assert [r["id"] for r in json_out(governed, "promote", "ls", "--state", "pending")] == [1]
    ok(governed, "policy", "set", "resnet50", "production", "--approvals", "3")
    assert json_out(governed, "promote", "ls", "--state", "pending")[0]["approvals_required"] == 3


def test_promote_ls_with_nothing_to_list_says_so_on_stderr_and_refuses_bad_filters(url: str) -> None:
    result = ok(url, "promote", "ls", "resnet50", "--state", "pending")
    assert result.stdout == ""
    assert "no pending promotion requests of model 'resnet50'" in result.stderr
    assert json_out(url, "promote", "ls") == []
    assert "'bogus' is not one of 'pending', 'approved', 'rejected'" in fails(
        url, "promote", "ls", "--state", "bogus", code=2)
    assert "invalid model name" in error_line(fails(url, "promote", "ls", "bad name", code=5))


# -- history --------------------------------------------------------------------------------------------------


def test_history_shows_each_governance_step_with_its_request_id_reason_and_final(governed: str) -> None:
    request(governed, "1.5.0", "--reason", "beats 1.4.2 on v2 eval")
    ok(governed, "promote", "approve", "1", "--actor", "alice")
    ok(governed, "promote", "approve", "1", "--actor", "bob")
    ok(governed, "alias", "set", "resnet50", "staging", "1.5.0")  # production's policy keeps a baseline: no removal
    ok(governed, "policy", "set", "resnet50", "staging", "--approvals", "2", "--actor", "ops")
    ok(governed, "promote", "request", "resnet50", "staging", "--remove", "--actor", "ci")
    ok(governed, "promote", "reject", "2", "--reason", "still serving", "--actor", "alice")
    lines = ok(governed, "history", "resnet50").stdout.splitlines()
    assert lines[0].split() == ["REV", "AT", "KIND", "VERSION", "ALIAS", "ACTOR", "DETAIL"]
    governance = [line.split(None, 2)[2] for line in lines[1:] if "policy_" in line or "promotion_" in line]
    assert [" ".join(line.split()) for line in governance] == [
        "policy_set production ops approvals 2; require metrics.top1 >= 0.75, metrics.latency_ms <= 15, "
        "not version satisfies '<1.0.0'; must not regress metrics.top1",
        "promotion_requested 1.5.0 production ci request 1: beats 1.4.2 on v2 eval",
        "promotion_approved 1.5.0 production alice request 1",
        "promotion_approved 1.5.0 production bob request 1, final",
        "policy_set staging ops approvals 2",
        "promotion_requested staging ci removal request 2",
        "promotion_rejected staging alice request 2: still serving",
    ]
    moves = [line.split()[2:] for line in lines if " alias_set " in line]
    assert moves[-2:] == [["alias_set", "1.5.0", "production", "bob"], ["alias_set", "1.5.0", "staging"]]


# -- over a real server: the worked example of docs/governance.md ---------------------------------------------


def test_over_a_server_a_ci_token_requests_two_people_approve_and_history_names_each_token(
    start_server: StartServer, tmp_path: Path
) -> None:
    tokens = tmp_path / "tokens.json"
    secret = {}
    for name, role in (("ops", "admin"), ("ci", "write"), ("alice", "write"), ("bob", "write")):
        added = CliRunner(env=ENV).invoke(cli, ["tokens", "add", name, role, "--file", str(tokens)])
        assert added.exit_code == 0, added.stderr
        secret[name] = added.stdout.strip()
    server = start_server(tokens_file=str(tokens))

    def as_(name: str, *args: str) -> list[str]:
        return [server.url, "--token", secret[name], *args]

    for version, top1 in (("1.4.2", "0.761"), ("1.5.0", "0.784")):
        ok(*as_("ci", "register", "resnet50", version, "--artifact", f"s3://m/{version}", "--metric",
                f"top1={top1}", "--metric", "latency_ms=12"))
    ok(*as_("ci", "alias", "set", "resnet50", "production", "1.4.2"))  # write moves an alias without a policy
    assert "needs the admin role" in error_line(fails(*as_("ci", "policy", "set", "resnet50", "production",
                                                           "--approvals", "2"), code=7))
    ok(*as_("ops", "policy", "set", "resnet50", "production", *GATES, "--approvals", "2"))
    assert "modelreg promote request" in error_line(
        fails(*as_("ci", "alias", "set", "resnet50", "production", "1.5.0"), code=8))
    assert "names the caller by its token" in fails(
        *as_("alice", "promote", "approve", "1", "--actor", "alice"), code=2)

    assert ok(*as_("ci", "promote", "request", "resnet50", "production", "1.5.0", "--reason", "beats 1.4.2")
              ).stdout.endswith("approved 0/2, waiting for 2 more\n")
    assert "ci requested promotion 1" in error_line(fails(*as_("ci", "promote", "approve", "1"), code=8))
    assert ok(*as_("alice", "promote", "approve", "1")).stdout.endswith("approved 1/2, waiting for 1 more\n")
    assert ok(*as_("bob", "promote", "approve", "1")).stdout == (
        "approved: resnet50 production now -> 1.5.0 (promotion 1, approved by alice, bob)\n")

    assert ok(*as_("bob", "resolve", "resnet50", "production")).stdout == "1.5.0\n"
    events = json_out(*as_("bob", "history", "resnet50"))[-5:]
    assert [(e["kind"], e["actor"]) for e in events] == [
        ("policy_set", "ops"), ("promotion_requested", "ci"), ("promotion_approved", "alice"),
        ("promotion_approved", "bob"), ("alias_set", "bob"),
    ]
    assert "request 1, final" in ok(*as_("bob", "history", "resnet50")).stdout


GOVERNANCE_DOC = Path(__file__).resolve().parents[2] / "docs" / "governance.md"
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?\+00:00")


def _example_steps() -> list[tuple[str, list[str]]]:
    """The worked example's ``$ modelreg ...`` commands (continuations joined), each with the lines it shows."""
    text = GOVERNANCE_DOC.read_text(encoding="utf-8").split("### Worked example", 1)[1].split("\n#", 1)[0]
    steps: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", text, re.DOTALL):
        lines = iter(block.splitlines())
        for line in lines:
            if line.startswith("$ "):
                command = line[2:]
                while command.endswith("\\"):
                    command = command[:-1] + next(lines).strip()
                steps.append((command, []))
            else:
                steps[-1][1].append(line)
    return steps


def test_the_worked_example_in_docs_governance_md_runs_as_shown(start_server: StartServer, tmp_path: Path) -> None:
    steps = _example_steps()
    assert len(steps) >= 20
    tokens, secret = tmp_path / "tokens.json", {}
    for command, shown in steps:
        if command.startswith("modelreg tokens add"):  # modelreg tokens add NAME ROLE --file tokens.json > NAME.token
            words = shlex.split(command.split(">")[0])
            added = CliRunner(env=ENV).invoke(cli, [*words[1:-1], str(tokens)])
            assert added.exit_code == 0 and shown == [], (command, added.stderr)
            secret[f"${words[3].upper()}"] = added.stdout.strip()
    server = start_server(tokens_file=str(tokens))
    for command, shown in steps:
        words = shlex.split(command)
        if words[0] != "modelreg" or words[1] == "tokens" or "serve" in words:
            continue  # the tokens were added and the server started above; export and OPS=... are shell
        result = CliRunner(env={**ENV, "MODELREG_URL": server.url}).invoke(
            cli, [secret.get(word, word) for word in words[1:]], catch_exceptions=False)
        assert result.exit_code in (0, 7, 8), (command, result.stderr)
        got = [_TIME.sub("T", line) for line in result.stderr.splitlines() + result.stdout.splitlines()]
        assert got == [_TIME.sub("T", line) for line in shown], command


def test_watch_lines_carry_the_same_few_words_of_detail() -> None:
    at = datetime(2026, 1, 5, 12, 30, tzinfo=UTC)
    approved = RegistryEvent("promotion_approved", "resnet50", "1.5.0", "production", 9, at, "bob",
                             freeze_detail({"id": 1, "final": True}))
    plain = RegistryEvent("alias_set", "resnet50", "1.5.0", "production", 10, at, "bob")
    assert event_line(approved) == ("r9 2026-01-05T12:30:00+00:00 promotion_approved resnet50 1.5.0 alias=production "
                                    "by=bob (request 1, final)")
    assert event_line(plain) == "r10 2026-01-05T12:30:00+00:00 alias_set resnet50 1.5.0 alias=production by=bob"
