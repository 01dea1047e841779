"""The command line as separate processes: ``python -m modelreg``, ``watch`` and ``serve``.

Every wait is bounded; a process that does not answer in time fails the test, it does not hang it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pytest

from modelreg import ModelMetadata, open_registry
from modelreg.registry import ModelRegistry

WAIT = 30.0  # seconds: an upper bound for a line or an exit, never a speed target
ENV = {k: v for k, v in os.environ.items() if k not in ("MODELREG_URL", "MODELREG_TOKEN", "MODELREG_SERVER_TOKENS")}
ENV["PYTHONUNBUFFERED"] = "1"
needs_server = pytest.mark.skipif(
    importlib.util.find_spec("modelreg.server") is None, reason="modelreg.server is not built yet"
)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'reg.db'}"


@pytest.fixture
def registry(url: str) -> Iterator[ModelRegistry]:
    """The same SQLite file, opened by this (test) process."""
    opened = open_registry(url)
    yield opened
    opened.close()  # type: ignore[attr-defined]


def meta(artifact: str = "s3://a") -> ModelMetadata:
    return ModelMetadata(training_date=datetime(2026, 1, 5, tzinfo=UTC), artifact_path=artifact)


def modelreg(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelreg", *args], capture_output=True, text=True, timeout=WAIT, env=ENV, check=False
    )


class Lines:
    """Lines a pipe yields, read on a thread so the test can wait for one with a bound."""

    def __init__(self, pipe: IO[str]) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(pipe,), daemon=True).start()

    def _read(self, pipe: IO[str]) -> None:
        for line in pipe:
            self._lines.put(line.rstrip("\n"))

    def next(self) -> str:
        try:
            line = self._lines.get(timeout=WAIT)
        except queue.Empty:
            raise AssertionError(f"no line within {WAIT}s; seen so far: {self.seen}") from None
        self.seen.append(line)
        return line

    def rest(self) -> list[str]:
        out = []
        while not self._lines.empty():
            out.append(self._lines.get_nowait())
        return out


@pytest.fixture
def spawn() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts; any still running at the end are killed."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=WAIT)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def start(spawn: list[subprocess.Popen[str]], *args: str) -> tuple[subprocess.Popen[str], Lines, Lines]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelreg", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    spawn.append(proc)
    assert proc.stdout is not None and proc.stderr is not None
    return proc, Lines(proc.stdout), Lines(proc.stderr)


# -- python -m modelreg -------------------------------------------------------------------


def test_python_m_modelreg_registers_and_shows_across_processes(url: str) -> None:
    done = modelreg("--registry", url, "register", "m", "v1.2.0", "--artifact", "s3://m", "--metric", "top1=0.5")
    assert (done.returncode, done.stdout) == (0, "registered m 1.2.0\n"), done.stderr
    shown = modelreg("--registry", url, "--json", "show", "m", "1.2.0")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["metadata"]["performance_metrics"] == {"top1": 0.5}


def test_python_m_modelreg_exits_with_the_errors_code_and_one_line(url: str) -> None:
    done = modelreg("--registry", url, "show", "m", "1.2")
    assert done.returncode == 5
    assert done.stdout == ""
    assert done.stderr.startswith("error: invalid version '1.2'") and done.stderr.count("\n") == 1


def test_main_without_click_says_what_to_install_and_exits_2() -> None:
    code = "import sys; sys.modules['click'] = None; from modelreg.cli import main; main()"
    done = subprocess.run([sys.executable, "-c", code, "models"], capture_output=True, text=True, timeout=WAIT, env=ENV)
    assert done.returncode == 2
    assert "pip install 'modelreg[cli]'" in done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1


def test_a_yaml_file_without_pyyaml_says_so(url: str, tmp_path: Path) -> None:
    (tmp_path / "meta.yaml").write_text("artifact_path: s3://a\n")
    code = "import sys; sys.modules['yaml'] = None; from modelreg.cli import main; main(sys.argv[1:])"
    args = ["--registry", url, "register", "m", "1.0.0", "--from-file", str(tmp_path / "meta.yaml")]
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=WAIT, env=ENV)
    assert done.returncode == 2
    assert "needs PyYAML, which is not installed: pip install pyyaml" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_without_the_server_extra_says_what_to_install(url: str) -> None:
    # The extra brings starlette and uvicorn; modelreg.server itself ships with every install.
    code = ("import sys; sys.modules['uvicorn'] = sys.modules['starlette'] = None; "
            "from modelreg.cli import main; main(sys.argv[1:])")
    args = ["--registry", url, "serve", "--port", "1"]
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=WAIT, env=ENV)
    assert done.returncode == 1
    assert done.stderr.startswith("error: the server is not available")
    assert "pip install 'modelreg[server]'" in done.stderr and done.stderr.count("\n") == 1


# -- watch --------------------------------------------------------------------------------


def test_watch_prints_an_event_written_by_another_process(
    url: str, registry: ModelRegistry, spawn: list[subprocess.Popen[str]]
) -> None:
    proc, out, err = start(spawn, "--registry", url, "watch")
    assert err.next().startswith("watching all models")  # subscribed: nothing after this is missed
    registry.register_model("resnet50", "1.0.0", meta())
    line = out.next().split()
    assert line[0] == "r1" and line[2:] == ["registered", "resnet50", "1.0.0"]
    registry.set_alias("resnet50", "production", "1.0.0")
    assert out.next().split()[2:] == ["alias_set", "resnet50", "1.0.0", "alias=production"]
    proc.send_signal(signal.SIGINT)  # Ctrl-C
    assert proc.wait(timeout=WAIT) == 0
    assert not any("Traceback" in line for line in err.rest())


def test_watch_since_replays_one_models_history_then_follows_as_json_lines(
    url: str, registry: ModelRegistry, spawn: list[subprocess.Popen[str]]
) -> None:
    registry.register_model("m", "1.0.0", meta())
    registry.register_model("other", "1.0.0", meta())
    registry.set_alias("m", "production", "1.0.0")
    proc, out, err = start(spawn, "--registry", url, "--json", "watch", "m", "--since", "0")
    backlog = [json.loads(out.next()) for _ in range(2)]
    assert [(e["revision"], e["kind"], e["name"]) for e in backlog] == [(1, "registered", "m"), (3, "alias_set", "m")]
    assert err.next().startswith("watching model 'm'")
    registry.register_model("other", "2.0.0", meta())  # another model: not printed
    registry.register_model("m", "1.1.0", meta())
    live = json.loads(out.next())
    assert (live["revision"], live["kind"], live["name"], live["version"]) == (5, "registered", "m", "1.1.0")
    proc.terminate()  # SIGTERM ends it as cleanly as Ctrl-C
    assert proc.wait(timeout=WAIT) == 0
    assert out.rest() == []


def test_watch_since_replays_changes_of_a_model_that_has_no_versions_left(
    url: str, registry: ModelRegistry, spawn: list[subprocess.Popen[str]]
) -> None:
    registry.register_model("gone", "1.0.0", meta())
    registry.unregister_model("gone", "1.0.0")
    proc, out, err = start(spawn, "--registry", url, "watch", "--since", "0")
    assert [out.next().split()[::2] for _ in range(2)] == [["r1", "registered", "1.0.0"],
                                                          ["r2", "unregistered", "1.0.0"]]
    assert err.next().startswith("watching all models")
    registry.register_model("gone", "2.0.0", meta())
    assert out.next().split()[::2] == ["r3", "registered", "2.0.0"]
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=WAIT) == 0
    assert out.rest() == []


def test_watch_replays_the_log_page_by_page_once_each(registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    from modelreg.cli import _watch

    for minor in range(5):
        registry.register_model("paged", f"1.{minor}.0", meta())
    monkeypatch.setattr(_watch, "_PAGE", 2)
    replayed = list(_watch._replay(registry.events_after, 1))  # type: ignore[attr-defined]
    assert [event.revision for event in replayed] == [2, 3, 4, 5]


def test_watch_of_a_bad_model_name_exits_5_at_once(url: str) -> None:
    done = modelreg("--registry", url, "watch", "bad name")
    assert done.returncode == 5
    assert done.stderr.startswith("error: invalid model name 'bad name'")


# -- serve, end to end ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_health(base: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the server exited with {proc.returncode}"
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"no 200 from {base}/healthz within {WAIT}s")


@needs_server
def test_serve_answers_the_cli_over_http_and_stops_on_sigterm(
    url: str, tmp_path: Path, spawn: list[subprocess.Popen[str]]
) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "modelreg", "--registry", url, "serve", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env=ENV,
    )
    spawn.append(server)
    _wait_for_health(base, server)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return modelreg("--registry", base, *args)

    watcher, events, watch_err = start(spawn, "--registry", base, "watch", "m")
    assert watch_err.next().startswith("watching model 'm'")
    done = cli("register", "m", "1.0.0", "--artifact", "s3://m/1", "--param", "lr=0.01")
    assert (done.returncode, done.stdout) == (0, "registered m 1.0.0\n"), done.stderr
    assert events.next().split()[2:] == ["registered", "m", "1.0.0", "by=anonymous"]  # loopback, no tokens
    assert cli("register", "m", "1.1.0", "--artifact", "s3://m/2").returncode == 0
    assert cli("alias", "set", "m", "production", "1.0.0").returncode == 0
    assert json.loads(cli("--json", "versions", "m").stdout) == {
        "name": "m", "versions": ["1.0.0", "1.1.0"], "aliases": {"production": "1.0.0"},
    }  # fmt: skip
    assert cli("resolve", "m", "production").stdout == "1.0.0\n"
    shown = json.loads(cli("--json", "show", "m", "1.0.0").stdout)
    assert shown["metadata"]["hyperparameters"] == {"lr": 0.01}
    assert [e["kind"] for e in json.loads(cli("--json", "history", "m").stdout)] == [
        "registered", "registered", "alias_set",
    ]  # fmt: skip
    duplicate = cli("register", "m", "1.0.0", "--artifact", "x")
    assert duplicate.returncode == 4 and duplicate.stderr.startswith("error: ")
    assert cli("show", "m", "9.0.0").returncode == 3
    assert cli("unregister", "m", "1.0.0").returncode == 4
    watcher.send_signal(signal.SIGINT)
    assert watcher.wait(timeout=WAIT) == 0
    assert cli("register", "gone", "1.0.0", "--artifact", "s3://g/1").returncode == 0
    assert cli("unregister", "gone", "1.0.0").returncode == 0  # the model has no versions left
    replay, replayed, replay_err = start(spawn, "--registry", base, "watch", "gone", "--since", "0")
    assert [replayed.next().split()[2:4] for _ in range(2)] == [["registered", "gone"], ["unregistered", "gone"]]
    assert replay_err.next().startswith("watching model 'gone'")
    replay.send_signal(signal.SIGINT)
    assert replay.wait(timeout=WAIT) == 0
    assert replayed.rest() == []

    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=WAIT) == 0
    log.close()
    assert "/api/v1/" in (tmp_path / "server.log").read_text()  # one access-log line per request
    with open_registry(url) as reopened:  # type: ignore[attr-defined]
        assert reopened.get_versions("m") == ["1.0.0", "1.1.0"]  # written through to the SQLite file


def _serve(spawn: list[subprocess.Popen[str]], url: str, port: int, log: Path) -> subprocess.Popen[str]:
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "-m", "modelreg", "--registry", url, "serve", "--port", str(port)],
                                  stdout=out, stderr=subprocess.STDOUT, text=True, env=ENV)
    spawn.append(server)
    _wait_for_health(f"http://127.0.0.1:{port}", server)
    return server


def _stop_server(server: subprocess.Popen[str]) -> None:
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=WAIT) == 0


@needs_server
@pytest.mark.parametrize("store", ["memory", "recreated sqlite file"])
def test_watch_says_the_server_came_back_with_another_store_and_exits_1(
    store: str, tmp_path: Path, spawn: list[subprocess.Popen[str]]
) -> None:
    url = "memory://" if store == "memory" else f"sqlite:///{tmp_path / 'reg.db'}"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _serve(spawn, url, port, tmp_path / "first.log")
    watcher, out, err = start(spawn, "--registry", base, "watch")
    assert err.next().startswith("watching all models")
    assert modelreg("--registry", base, "register", "m", "1.0.0", "--artifact", "s3://m/1").returncode == 0
    assert out.next().split()[::2] == ["r1", "registered", "1.0.0"]
    _stop_server(server)
    if store != "memory":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{tmp_path / 'reg.db'}{suffix}").unlink(missing_ok=True)
        with open_registry(url) as fresh:  # type: ignore[attr-defined]  # a new store, already past revision 1
            fresh.register_model("m", "5.0.0", meta())
            fresh.register_model("m", "6.0.0", meta())

    _serve(spawn, url, port, tmp_path / "second.log")
    assert watcher.wait(timeout=WAIT) == 1
    lines = [err.next()]
    while not lines[-1].startswith("error: "):  # after the client's warnings while the server was away
        lines.append(err.next())
    assert lines[-1].startswith(f"error: the server at {base} now serves another store"), lines
    assert not any("Traceback" in line for line in lines)
    assert out.rest() == []  # nothing from the new store was printed as if it followed r1


@needs_server
def test_watch_since_a_revision_the_server_has_not_reached_exits_1_saying_so(
    tmp_path: Path, spawn: list[subprocess.Popen[str]]
) -> None:
    port = _free_port()
    _serve(spawn, "memory://", port, tmp_path / "server.log")
    done = modelreg("--registry", f"http://127.0.0.1:{port}", "watch", "--since", "1000000")
    assert done.returncode == 1
    assert done.stderr.startswith("error: this store (id ") and "is at revision 0, so it has no revision 1000000" in (
        done.stderr)
    assert done.stderr.count("\n") == 1 and done.stdout == ""


@needs_server
def test_serve_with_tokens_checks_the_cli_token_and_records_the_actor(
    url: str, tmp_path: Path, spawn: list[subprocess.Popen[str]]
) -> None:
    tokens = {"reader": "r-secret", "writer": "w-secret", "ops": "a-secret"}
    roles = {"reader": "read", "writer": "write", "ops": "admin"}
    entries = [
        {"name": name, "role": roles[name], "sha256": hashlib.sha256(token.encode()).hexdigest()}
        for name, token in tokens.items()
    ]
    (tmp_path / "tokens.json").write_text(json.dumps({"tokens": entries}))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "modelreg", "--registry", url, "serve", "--port", str(port), "--no-access-log",
         "--tokens-file", str(tmp_path / "tokens.json")],
        stdout=log, stderr=subprocess.STDOUT, text=True, env=ENV,
    )  # fmt: skip
    spawn.append(server)
    _wait_for_health(base, server)

    def cli(token: str | None, *args: str) -> subprocess.CompletedProcess[str]:
        return modelreg("--registry", base, *(["--token", token] if token else []), *args)

    anonymous = cli(None, "models")
    assert anonymous.returncode == 7 and anonymous.stderr.startswith("error: ") and anonymous.stderr.count("\n") == 1
    assert "--token" in anonymous.stderr and "MODELREG_TOKEN" in anonymous.stderr  # what a CLI user can do
    assert "Authorization" not in anonymous.stderr
    wrong = cli("wrong", "models")
    assert wrong.returncode == 7 and "refused the token given with --token or $MODELREG_TOKEN" in wrong.stderr
    assert cli(tokens["reader"], "models").returncode == 0
    assert cli(tokens["reader"], "register", "m", "1.0.0", "--artifact", "a").returncode == 7
    assert cli(tokens["writer"], "register", "m", "1.0.0", "--artifact", "a").returncode == 0
    assert cli(tokens["reader"], "alias", "set", "m", "production", "1.0.0").returncode == 7
    assert cli(tokens["writer"], "alias", "set", "m", "production", "1.0.0").returncode == 0  # no policy: write
    assert cli(tokens["writer"], "policy", "set", "m", "production", "--approvals", "1").returncode == 7  # admin only
    assert cli(tokens["ops"], "policy", "set", "m", "production", "--approvals", "1").returncode == 0
    history = json.loads(cli(tokens["reader"], "--json", "history", "m").stdout)
    assert [(e["kind"], e["actor"]) for e in history] == [
        ("registered", "writer"), ("alias_set", "writer"), ("policy_set", "ops"),
    ]

    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=WAIT) == 0
    log.close()
    assert "/api/v1/" not in (tmp_path / "server.log").read_text()  # --no-access-log


@needs_server
def test_search_annotate_and_model_commands_work_over_a_real_server(
    url: str, tmp_path: Path, spawn: list[subprocess.Popen[str]]
) -> None:
    port = _free_port()
    server = _serve(spawn, url, port, tmp_path / "server.log")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return modelreg("--registry", f"http://127.0.0.1:{port}", *args)

    for patch in range(5):
        done = cli("register", "m", f"1.0.{patch}", "--artifact", f"s3://m/{patch}", "--metric", f"top1=0.{patch}1")
        assert done.returncode == 0, done.stderr
    assert cli("alias", "set", "m", "production", "1.0.3").returncode == 0
    annotated = cli("--json", "annotate", "m", "1.0.3", "--metric", "lat_ms=12.5", "--tag", "team=vision")
    assert json.loads(annotated.stdout)["metadata"]["performance_metrics"] == {"top1": 0.31, "lat_ms": 12.5}
    refused = cli("annotate", "m", "1.0.3", "--metric", "top1=0.99")
    assert refused.returncode == 5 and refused.stderr.startswith("error: ") and refused.stderr.count("\n") == 1

    found = cli("search", "metrics.top1 >= 0.2 and tags.team = 'vision'", "--order-by", "metrics.lat_ms")
    assert (found.returncode, found.stdout.split("\n")[1].split()) == (0, ["m", "1.0.3", "production", "0.31", "12.5"])
    walked = json.loads(cli("--json", "search", "metrics.top1 > 0.1", "--order-by", "metrics.top1 desc",
                            "--limit", "2", "--all").stdout)  # fmt: skip
    assert [i["version"] for i in walked["items"]] == ["1.0.4", "1.0.3", "1.0.2", "1.0.1"]
    assert (walked["next_cursor"], walked["total"]) == (None, 4)
    bad = cli("search", "metrics.top1 >= ")
    assert bad.returncode == 5 and bad.stdout == ""
    error, query, caret = bad.stderr.splitlines()  # the position survives the trip through the server
    assert error.startswith("error: ") and query == "  metrics.top1 >= " and caret.endswith("^")

    described = cli("--json", "model", "annotate", "m", "--description", "a test model", "--tag", "owner=ci")
    assert json.loads(described.stdout)["tags"] == {"owner": "ci"}
    shown = json.loads(cli("--json", "model", "show", "m").stdout)
    assert (shown["description"], shown["version_count"], shown["latest"]) == ("a test model", 5, "1.0.4")
    assert cli("model", "delete", "m").returncode == 4  # an alias exists
    deleted = cli("model", "delete", "m", "--force")
    assert (deleted.returncode, deleted.stdout) == (0, "deleted model m and its 5 versions\n"), deleted.stderr
    assert cli("model", "show", "m").returncode == 3
    _stop_server(server)


@needs_server
def test_serve_refuses_a_public_address_without_tokens(url: str) -> None:
    done = modelreg("--registry", url, "serve", "--host", "0.0.0.0", "--port", "0")
    assert done.returncode == 2
    assert done.stderr.startswith("error: refusing to serve on 0.0.0.0 without tokens")
    assert "Traceback" not in done.stderr
