"""Running the ``modelreg`` CLI in-process for tests: ``run`` any command, ``ok`` one that must succeed."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner, Result

from modelreg.cli.app import cli

CLEAN_ENV: dict[str, str | None] = {"MODELREG_URL": None, "MODELREG_TOKEN": None}
"""No registry URL or token from the developer's environment leaks into a test."""


def run(url: str | None, *args: str) -> Result:
    """``modelreg [--registry URL] ARGS`` with a clean environment; exceptions propagate."""
    argv = ["--registry", url, *args] if url is not None else list(args)
    return CliRunner(env=CLEAN_ENV).invoke(cli, argv, catch_exceptions=False)


def ok(url: str | None, *args: str) -> Result:
    """``run``, asserting exit 0 (the output is in the assertion message otherwise)."""
    result = run(url, *args)
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result


def json_out(url: str, *args: str) -> Any:
    """The parsed stdout of ``modelreg --json ARGS``."""
    return json.loads(ok(url, "--json", *args).stdout)
