"""``modelreg webhook add|ls|rm|test``: the real CLI against a real ``modelreg serve`` and a loopback receiver."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from modelreg.cli.app import cli
from modelreg.webhooks import verify_signature
from support.receiver import Receiver
from support.serverkit import TOKENS, Running, StartServer, bearer, put_version

ENV: dict[str, str | None] = {"MODELREG_URL": None, "MODELREG_TOKEN": None, "MODELREG_WEBHOOK_SECRET": None,
                              "COLUMNS": "200"}


def run(server: Running, *args: str, token: str = "boss") -> Result:
    """``modelreg --registry URL --token T ARGS``; exceptions other than exits propagate (a traceback is a bug)."""
    argv = ["--registry", server.url, "--token", TOKENS[token][1], *args]
    return CliRunner(env=ENV).invoke(cli, argv, catch_exceptions=False)


def ok(server: Running, *args: str) -> Result:
    result = run(server, *args)
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result


@pytest.fixture
def server(start_server: StartServer, tokens_file: Path) -> Running:
    return start_server(tokens_file=str(tokens_file))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver().start()
    yield found
    found.stop()


def test_add_prints_the_secret_once_and_deliveries_verify_with_it(server: Running, receiver: Receiver) -> None:
    added = ok(server, "webhook", "add", receiver.url, "--event", "registered", "--model", "res*")
    hook_id = added.stdout.split()[2]
    secret = added.stdout.split("secret: ", 1)[1].split()[0]
    import httpx

    with httpx.Client(base_url=server.url, headers=bearer("boss")) as http:
        put_version(http, "resnet", "1.0.0")
    (request,) = receiver.wait_for(1)
    assert request.headers["x-modelreg-delivery"].startswith(f"{hook_id}-1-")
    assert verify_signature(secret, request.headers["x-modelreg-timestamp"], request.body,
                            request.headers["x-modelreg-signature"])
    listed = ok(server, "webhook", "ls").stdout
    assert hook_id in listed and "registered" in listed and "res*" in listed and secret not in listed
    as_json = json.loads(ok(server, "--json", "webhook", "ls").stdout)
    assert [h["id"] for h in as_json["webhooks"]] == [hook_id] and "secret" not in as_json["webhooks"][0]


def test_add_with_json_and_a_given_secret(server: Running, receiver: Receiver) -> None:
    data = json.loads(ok(server, "--json", "webhook", "add", receiver.url, "--secret", "s3cret-s3cret-s3cret").stdout)
    assert data["secret"] == "s3cret-s3cret-s3cret" and data["events"] is None and data["models"] is None


def test_test_reports_the_receivers_answer_and_fails_unless_2xx(server: Running, receiver: Receiver) -> None:
    hook_id = json.loads(ok(server, "--json", "webhook", "add", receiver.url).stdout)["id"]
    assert ok(server, "webhook", "test", hook_id).stdout.startswith("delivered: HTTP 200")
    receiver.status = 500
    result = run(server, "webhook", "test", hook_id)
    assert result.exit_code == 1 and result.stdout.startswith("failed: HTTP 500 (answered 500)")
    assert len(receiver.received) == 2


def test_rm_removes_and_a_missing_id_is_not_found(server: Running, receiver: Receiver) -> None:
    hook_id = json.loads(ok(server, "--json", "webhook", "add", receiver.url).stdout)["id"]
    assert ok(server, "webhook", "rm", hook_id).stdout.strip() == f"removed webhook {hook_id}"
    assert ok(server, "webhook", "ls").stdout.strip().splitlines() == ["ID  URL  EVENTS  MODELS  POSITION  STATE"]
    for missing in (hook_id, "nonsense"):
        result = run(server, "webhook", "rm", missing)
        assert result.exit_code == 3 and result.stderr.startswith("error: no webhook has id"), result.stderr


def test_bad_input_and_a_non_admin_token_are_one_line_errors_that_change_nothing(
    server: Running, receiver: Receiver
) -> None:
    bad = run(server, "webhook", "add", "ftp://example.com/hook")
    assert bad.exit_code == 5 and bad.stderr.strip() == (
        "error: field 'url' 'ftp://example.com/hook' must use http or https, not 'ftp'")
    kind = run(server, "webhook", "add", receiver.url, "--event", "deployed")
    assert kind.exit_code == 5 and "valid kinds: registered, unregistered" in kind.stderr
    refused = run(server, "webhook", "add", receiver.url, token="writer")
    assert refused.exit_code == 7 and "needs the admin role" in refused.stderr
    assert "Traceback" not in bad.stderr + kind.stderr + refused.stderr
    assert json.loads(ok(server, "--json", "webhook", "ls").stdout) == {"webhooks": []}


def test_a_local_registry_is_refused_with_a_hint(tmp_path: Path) -> None:
    argv = ["--registry", f"sqlite:///{tmp_path / 'r.db'}", "webhook", "ls"]
    result = CliRunner(env=ENV).invoke(cli, argv, catch_exceptions=False)
    assert result.exit_code == 2 and "webhooks are delivered by a server: give an http(s):// registry" in result.stderr
