"""The README's promises: its example runs (as a script and pasted into the REPL), CI runs its test
command, and the limits it states are the code's."""

from __future__ import annotations

import code
import re
import runpy
from pathlib import Path

import pytest

from modelreg.server import DEFAULT_MAX_BODY_BYTES

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SERVER_DOC = (ROOT / "docs" / "server.md").read_text(encoding="utf-8")
LIBRARY_EXAMPLE = README.split("```python\n", 1)[1].split("```", 1)[0]


class _Console(code.InteractiveConsole):
    """The interactive interpreter of ``python3`` with no prompt: what pasting line by line runs."""

    def __init__(self) -> None:
        super().__init__({"__name__": "__console__"})
        self.errors: list[str] = []

    def write(self, data: str) -> None:
        self.errors.append(data)  # only tracebacks and syntax errors are written here


def test_readme_library_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "example.py"
    script.write_text(LIBRARY_EXAMPLE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # the example opens sqlite:///registry.db, relative to the working directory

    runpy.run_path(str(script))

    assert (tmp_path / "registry.db").exists()
    assert "registered" in capsys.readouterr().out  # the subscribe(print) line saw the change


def test_readme_quick_start_has_two_commands_and_ci_runs_the_test_one() -> None:
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.+?)\n```", quick_start)
    assert len(commands) == 2
    assert "modelreg serve" in commands[0]
    assert commands[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_library_example_runs_when_pasted_into_the_interactive_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    console = _Console()
    for line in LIBRARY_EXAMPLE.splitlines():
        console.push(line)
    console.push("")  # the blank line a user types to finish a block still open at the end

    assert console.errors == []  # a compound statement needs a blank line after it in the REPL
    assert console.locals["reg"].get_versions("resnet50") == ["1.1.0"]
    assert "registered" in capsys.readouterr().out


def test_readme_states_the_servers_body_limit() -> None:
    stated = {int(m) for m in re.findall(r"body limit of (\d+) MiB", README)}
    assert stated == {DEFAULT_MAX_BODY_BYTES // 2**20}, stated
    assert DEFAULT_MAX_BODY_BYTES % 2**20 == 0
    assert f"default {DEFAULT_MAX_BODY_BYTES // 2**20} MiB" in SERVER_DOC


def test_readme_says_how_to_install_without_pypi() -> None:
    assert "not published on PyPI" in README
    install = README.split("## Installing", 1)[1].split("\n## ", 1)[0]
    assert "pip install ." in install and "--find-links dist" in install and "pip wheel" in install
    # "pip install modelreg" from an index appears only where a wheel directory or index is named.
    assert re.search(r"^pip install modelreg\b", README, re.MULTILINE) is None


def test_every_quick_start_command_makes_and_uses_its_own_virtual_environment() -> None:
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    for command in re.findall(r"```sh\n(.+?)\n```", quick_start):
        first, *rest = command.split(" && ")
        assert first == "python3 -m venv .venv", command  # a system Python may refuse pip installs
        assert rest and all(step.startswith(".venv/bin/") for step in rest), command


def _error_row(status: int) -> str:
    return next(line for line in SERVER_DOC.splitlines() if line.startswith(f"| {status} |"))


def test_server_doc_puts_an_encoded_slash_in_a_name_where_the_server_does() -> None:
    # tests/server/test_server_malformed.py checks the behaviour: 422 inside a name or version,
    # 400 only in a fixed segment of the path.
    assert "%2F" in _error_row(422) and "invalid_name" in _error_row(422)
    assert "fixed part of the path" in _error_row(400)


def test_server_doc_says_which_content_types_a_body_may_have() -> None:
    row = _error_row(415)
    assert "application/json" in row and "charset=utf-8" in row and "+json" in row
