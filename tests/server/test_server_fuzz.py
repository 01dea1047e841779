"""A bounded schemathesis run against a live server: no 5xx, every response as the OpenAPI document says.

The event stream is left out: it never ends, so a request/response fuzzer can only time
out on it; tests/server/test_server_events.py covers it. Set MODELREG_FUZZ_SECONDS to fuzz longer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.serverkit import StartServer

CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance"


def _schemathesis() -> str:
    found = Path(sys.executable).with_name("schemathesis")
    if found.exists():
        return str(found)
    path = shutil.which("schemathesis")
    if path is None:
        pytest.skip("schemathesis is not installed (pip install schemathesis)")
    return path


@pytest.mark.slow
def test_fuzzing_the_api_finds_no_server_error_or_schema_violation(start_server: StartServer, tmp_path: Path) -> None:
    command = [
        _schemathesis(), "run", "", "--checks", CHECKS, "--exclude-path", "/api/v1/events",
        "--max-examples", "10", "--max-time", os.environ.get("MODELREG_FUZZ_SECONDS", "45"),
        "--seed", os.environ.get("MODELREG_FUZZ_SEED", "4"), "--workers", "1",
        "--generation-database", "none", "--no-color", "--request-timeout", "10",
    ]
    server = start_server(access_log=False)
    command[2] = f"{server.url}/openapi.json"

    run = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)

    report = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, f"{' '.join(command)}\n{report}"
    assert "unexpected error" not in server.logs(), server.logs()[-4000:]
