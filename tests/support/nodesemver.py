"""The real npm ``semver`` package, driven from Python: one long-lived ``node`` process answering batches.

tests/node/ pins the package (package.json + package-lock.json); ``npm ci`` there installs it
(``.ci/run`` does). ``NodeSemver.ask`` sends a batch of questions as one JSON line and reads one
JSON line of answers, so thousands of cases cost one process and a few round trips.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["NODE_DIR", "REQUIRE_ENV", "NodeSemver", "NodeUnavailable"]

REQUIRE_ENV = "MODELREG_REQUIRE_NODE"
NODE_DIR = Path(__file__).resolve().parent.parent / "node"
_INSTALL_HINT = f"install node and npm (Debian: apt-get install nodejs npm), then run 'npm ci' in {NODE_DIR}"


class NodeUnavailable(RuntimeError):
    """node is not installed, or the pinned semver package is not installed in tests/node."""


class NodeSemver:
    """A running ``node tests/node/oracle.js``; use as a context manager."""

    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None:
            raise NodeUnavailable(f"no 'node' on PATH; {_INSTALL_HINT}")
        if not (NODE_DIR / "node_modules" / "semver" / "package.json").is_file():
            raise NodeUnavailable(f"the semver package is not installed; {_INSTALL_HINT}")
        self._proc = subprocess.Popen(
            [node, str(NODE_DIR / "oracle.js")],
            cwd=NODE_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        hello = self._read()
        self.version: str = hello["semver"]

    def _read(self) -> Any:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"node oracle exited with {self._proc.wait()}")
        return json.loads(line)

    def ask(self, questions: list[list[Any]]) -> list[Any]:
        """Answers to ``[op, *args]`` questions (ops: valid, compare, validRange, satisfies), in order."""
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(questions) + "\n")
        self._proc.stdin.flush()
        answers: list[Any] = self._read()
        assert len(answers) == len(questions)
        return answers

    def close(self) -> None:
        """Stop the node process."""
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def __enter__(self) -> NodeSemver:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
