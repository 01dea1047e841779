"""A real MLflow tracking server for tests and benchmarks: a pinned ``mlflow`` in a cached virtual environment.

The environment is made once (``pip install mlflow==MLFLOW_VERSION``, a few minutes) under
``~/.cache/modelreg-tests/mlflow-<version>`` or ``$MODELREG_MLFLOW_VENV``, and reused. Each
``MlflowServer`` runs ``mlflow server`` on a free loopback port over a SQLite file and a local
artifact directory of its own; it can be stopped and started again on the same port and data.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

__all__ = ["MLFLOW_VERSION", "REQUIRE_ENV", "MlflowServer", "MlflowUnavailable", "mlflow_python"]

MLFLOW_VERSION = "3.17.2"  # keep equal to the mlflow-skinny pin in pyproject.toml (the test process's client)
REQUIRE_ENV = "MODELREG_REQUIRE_MLFLOW"
VENV_ENV = "MODELREG_MLFLOW_VENV"
_DONE = ".complete"  # written last, so a half-made environment (an interrupted pip) is made again


class MlflowUnavailable(Exception):
    """MLflow could not be installed or its server did not start; the message says why."""


def _venv_path() -> Path:
    given = os.environ.get(VENV_ENV)
    if given:
        return Path(given)
    return Path.home() / ".cache" / "modelreg-tests" / f"mlflow-{MLFLOW_VERSION}"


def mlflow_python() -> Path:
    """The Python of a virtual environment holding ``mlflow==MLFLOW_VERSION``, made (once) if need be."""
    venv = _venv_path()
    python = venv / "bin" / "python"
    if (venv / _DONE).exists():
        return python
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test run making it at the same time: wait for it
        if (venv / _DONE).exists():
            return python
        shutil.rmtree(venv, ignore_errors=True)
        steps = ([sys.executable, "-m", "venv", str(venv)],
                 [str(python), "-m", "pip", "install", "-q", f"mlflow=={MLFLOW_VERSION}"])
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=1200, check=False)
            if done.returncode != 0:
                raise MlflowUnavailable(f"{' '.join(step[-3:])} failed: {(done.stderr or done.stdout)[-800:]}")
        (venv / _DONE).write_text(MLFLOW_VERSION)
    return python


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MlflowServer:
    """``mlflow server`` over ``workdir``/mlflow.db with artifacts served from ``workdir``/artifacts."""

    def __init__(self, workdir: Path, python: Path | None = None) -> None:
        self.python = python or mlflow_python()
        self.workdir = workdir
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        """Whether this object started the server and has not stopped it."""
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 180.0) -> None:
        """Start the server and wait until ``/health`` answers; MlflowUnavailable (with its log) if it does not."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.workdir / "server.log", "ab")  # noqa: SIM115 - the child keeps writing to it
        self._process = subprocess.Popen(
            [str(self.python), "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", "1", "--backend-store-uri", f"sqlite:///{self.workdir / 'mlflow.db'}",
             "--serve-artifacts", "--artifacts-destination", str(self.workdir / "artifacts")],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.workdir,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            with contextlib.suppress(OSError), urllib.request.urlopen(self.url + "/health", timeout=2) as reply:
                if reply.status == 200:
                    return
            time.sleep(0.25)
        self.stop()
        tail = (self.workdir / "server.log").read_text(errors="replace")[-1500:]
        raise MlflowUnavailable(f"mlflow server did not answer on {self.url} within {timeout:.0f} s:\n{tail}")

    def stop(self) -> None:
        """Stop the server and its workers (its own process group) and wait for them."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)
