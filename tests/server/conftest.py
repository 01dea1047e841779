"""Real ``serve()`` processes on 127.0.0.1 for the end-to-end tests, and tokens for each role."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serverkit import TOKENS, Running, StartServer, registry_url

from fixtures.http_backend import ServerProcess, serve_command
from modelreg.server.auth import TOKENS_ENV, hash_token

pytest.importorskip("uvicorn")
pytest.importorskip("httpx")

@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start ``serve(registry_url, port=0, **options)`` in a new process; all are stopped at teardown."""
    started: list[ServerProcess] = []

    def start(url: str | None = None, env: dict[str, str] | None = None, **options: Any) -> Running:
        url = url or registry_url(tmp_path)
        environ = {k: v for k, v in os.environ.items() if k != TOKENS_ENV}
        environ.update({"PYTHONUNBUFFERED": "1", **(env or {})})
        process = ServerProcess(serve_command(url, **options), tmp_path / f"server-{len(started)}.log", environ)
        started.append(process)
        return Running(process, process.wait_listening(), url)

    yield start
    for process in started:
        process.stop()


@pytest.fixture(scope="module")
def tokens_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tokens file with one token per role (names: reader, writer, boss)."""
    path = tmp_path_factory.mktemp("tokens") / "tokens.json"
    entries = [{"name": name, "role": role, "sha256": hash_token(secret)} for name, (role, secret) in TOKENS.items()]
    path.write_text(json.dumps({"tokens": entries}))
    return path


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One anonymous-access server for a whole test module (tests use their own model names)."""
    directory = tmp_path_factory.mktemp("module-server")
    url = registry_url(directory)
    env = {k: v for k, v in os.environ.items() if k != TOKENS_ENV}
    process = ServerProcess(serve_command(url), directory / "server.log", {**env, "PYTHONUNBUFFERED": "1"})
    try:
        yield Running(process, process.wait_listening(), url)
    finally:
        process.stop()
