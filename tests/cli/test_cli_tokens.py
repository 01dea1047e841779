"""``modelreg tokens`` edits a tokens file, and a running ``modelreg serve`` follows it without a restart.

Every wait is bounded; the bounds are a few times the server's one-second reload interval,
an order of magnitude, not a speed target.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from factories import wait_until
from fixtures.http_backend import ServerProcess
from modelreg.server.auth import RELOAD_INTERVAL, hash_token

pytest.importorskip("uvicorn")

WAIT = 30.0
BOUND = 3 * RELOAD_INTERVAL  # "within about a second", with slack for a loaded machine
ENV = {k: v for k, v in os.environ.items() if k not in ("MODELREG_URL", "MODELREG_TOKEN", "MODELREG_SERVER_TOKENS")}
ENV["PYTHONUNBUFFERED"] = "1"


def modelreg(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelreg", *args], capture_output=True, text=True, timeout=WAIT, env=ENV, check=False
    )


def add(path: Path, name: str, role: str) -> str:
    """``modelreg tokens add``; the secret it printed."""
    done = modelreg("tokens", "add", name, role, "--file", str(path))
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def tokens_file(tmp_path: Path) -> Path:
    return tmp_path / "tokens.json"


@pytest.fixture
def server(tmp_path: Path, tokens_file: Path) -> Iterator[tuple[ServerProcess, str]]:
    """A real ``modelreg serve`` over a SQLite file, reading ``tokens_file`` (which holds 'ops', admin)."""
    secret = add(tokens_file, "ops", "admin")
    process = ServerProcess(
        [sys.executable, "-m", "modelreg", "--registry", f"sqlite:///{tmp_path / 'reg.db'}", "serve", "--port", "0",
         "--no-access-log", "--tokens-file", str(tokens_file)],
        tmp_path / "server.log", ENV,
    )  # fmt: skip
    try:
        process.wait_listening()
        yield process, secret
    finally:
        process.stop()


def _status(base: str, secret: str | None) -> int:
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return httpx.get(f"{base}/api/v1/models", headers=headers, timeout=10).status_code


def _seconds_until(predicate: Callable[[], bool]) -> float:
    """How long until ``predicate`` (which makes a request: the server checks its file on requests) holds."""
    started = time.monotonic()
    assert wait_until(predicate, timeout=WAIT, interval=0.05)
    return time.monotonic() - started


def test_add_writes_only_the_hash_to_a_private_file_and_prints_the_secret_once(tokens_file: Path) -> None:
    done = modelreg("tokens", "add", "ci", "write", "--file", str(tokens_file))
    assert done.returncode == 0, done.stderr
    secret = done.stdout.strip()
    assert len(secret) >= 32 and "\n" not in secret  # stdout is the secret alone: $(modelreg tokens add ...)
    assert "not stored" in done.stderr
    assert stat.S_IMODE(tokens_file.stat().st_mode) == 0o600
    text = tokens_file.read_text()
    assert secret not in text
    assert json.loads(text) == {"tokens": [{"name": "ci", "role": "write", "sha256": hash_token(secret)}]}
    assert [p.name for p in tokens_file.parent.iterdir()] == ["tokens.json"]  # no temporary file left behind


def test_list_shows_names_and_roles_and_never_a_secret(tokens_file: Path) -> None:
    first, second = add(tokens_file, "ci", "write"), add(tokens_file, "viewer", "read")
    listed = modelreg("tokens", "list", "--file", str(tokens_file))
    assert [line.split()[:2] for line in listed.stdout.splitlines()] == [["NAME", "ROLE"], ["ci", "write"],
                                                                           ["viewer", "read"]]
    as_json = json.loads(modelreg("--json", "tokens", "list", "--file", str(tokens_file)).stdout)
    assert [(t["name"], t["sha256"]) for t in as_json] == [("ci", hash_token(first)), ("viewer", hash_token(second))]
    assert first not in listed.stdout and second not in listed.stdout


def test_a_name_already_in_the_file_is_refused_and_the_file_is_unchanged(tokens_file: Path) -> None:
    add(tokens_file, "ci", "write")
    before = tokens_file.read_bytes()
    again = modelreg("tokens", "add", "ci", "admin", "--file", str(tokens_file))
    assert again.returncode == 2 and again.stdout == ""
    assert again.stderr.startswith("error: ") and "already has a token named 'ci'" in again.stderr
    assert tokens_file.read_bytes() == before


def test_revoking_an_unknown_name_exits_3_and_names_the_tokens_there(tokens_file: Path) -> None:
    add(tokens_file, "ci", "write")
    done = modelreg("tokens", "revoke", "nobody", "--file", str(tokens_file))
    assert done.returncode == 3 and "no token named 'nobody'" in done.stderr and "ci" in done.stderr


def test_a_rewrite_keeps_the_files_mode(tokens_file: Path) -> None:
    add(tokens_file, "ci", "write")
    tokens_file.chmod(0o640)  # e.g. readable by the server's group
    add(tokens_file, "viewer", "read")
    assert stat.S_IMODE(tokens_file.stat().st_mode) == 0o640


def test_a_running_server_accepts_an_added_token_and_refuses_a_revoked_one_without_restart(
    server: tuple[ServerProcess, str], tokens_file: Path
) -> None:
    process, ops = server
    base = process.url
    assert _status(base, ops) == 200 and _status(base, None) == 401

    ci = add(tokens_file, "ci", "write")  # added while the server runs
    assert _seconds_until(lambda: _status(base, ci) == 200) < BOUND

    done = modelreg("tokens", "revoke", "ci", "--file", str(tokens_file))
    assert done.returncode == 0, done.stderr
    assert _seconds_until(lambda: _status(base, ci) == 401) < BOUND
    assert _status(base, ops) == 200  # the others are untouched
    assert process.proc.poll() is None  # the same process throughout: no restart
    assert "now 1 token(s): ops" in process.logs()


def test_a_broken_tokens_file_keeps_the_last_good_tokens_and_logs_one_error(
    server: tuple[ServerProcess, str], tokens_file: Path
) -> None:
    process, ops = server
    base = process.url
    good = tokens_file.read_text()
    tokens_file.write_text('{"tokens": [{"name": "half-written"')
    assert _seconds_until(lambda: _status(base, ops) == 200 and "not reloaded" in process.logs()) < BOUND
    for _ in range(int(3 * RELOAD_INTERVAL / 0.1)):  # several reload checks over a few seconds
        assert _status(base, ops) == 200
        time.sleep(0.1)
    errors = [line for line in process.logs().splitlines() if "not reloaded" in line]
    assert len(errors) == 1, errors
    assert " ERROR " in errors[0] and "not valid JSON" in errors[0] and "Traceback" not in process.logs()

    tokens_file.write_text(good.replace('"ops"', '"ops2"'))  # fixed (and renamed): picked up again
    assert _seconds_until(lambda: _status(base, ops) == 200 and "now 1 token(s): ops2" in process.logs()) < BOUND


def test_add_with_models_writes_a_scoped_token_and_list_shows_its_models(tokens_file: Path) -> None:
    done = modelreg("tokens", "add", "vision-ci", "write", "--models", "vision-*", "--models", "bert",
                    "--file", str(tokens_file))
    assert done.returncode == 0, done.stderr
    secret = done.stdout.strip()
    assert "models vision-*, bert" in done.stderr
    assert json.loads(tokens_file.read_text()) == {"tokens": [
        {"name": "vision-ci", "role": "write", "sha256": hash_token(secret), "models": ["vision-*", "bert"]}]}
    add(tokens_file, "ops", "admin")
    listed = modelreg("tokens", "list", "--file", str(tokens_file)).stdout.splitlines()
    assert [line.split()[:3] for line in listed] == [
        ["NAME", "ROLE", "MODELS"], ["vision-ci", "write", "vision-*,bert"], ["ops", "admin", "(all)"]]
    as_json = json.loads(modelreg("--json", "tokens", "list", "--file", str(tokens_file)).stdout)
    assert [t["models"] for t in as_json] == [["vision-*", "bert"], None]
    modelreg("tokens", "revoke", "ops", "--file", str(tokens_file))  # a rewrite keeps the other token's scope
    assert json.loads(tokens_file.read_text())["tokens"][0]["models"] == ["vision-*", "bert"]


def test_add_with_a_bad_models_pattern_is_refused_and_writes_nothing(tokens_file: Path) -> None:
    done = modelreg("tokens", "add", "ci", "write", "--models", "vision/*", "--file", str(tokens_file))
    assert done.returncode != 0 and "models pattern 'vision/*'" in done.stderr
    assert "Traceback" not in done.stderr and not tokens_file.exists()
