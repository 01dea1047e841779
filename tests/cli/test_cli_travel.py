"""``--at`` on ``modelreg versions``, ``modelreg resolve`` and ``modelreg alias ls``, against real SQLite files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from modelreg import open_registry
from support.clirun import json_out, ok, run


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'reg.db'}"


def _last_at(url: str, name: str) -> str:
    with open_registry(url) as registry:
        return registry.history(name)[-1].at.isoformat()


@pytest.fixture
def moved(url: str) -> tuple[str, str]:
    """production on 1.0.0 at the returned time, then moved to 2.0.0, and 1.0.0 unregistered."""
    ok(url, "register", "resnet50", "1.0.0", "--artifact", "s3://models/resnet50/1.0.0")
    ok(url, "alias", "set", "resnet50", "production", "1.0.0")
    then = _last_at(url, "resnet50")
    ok(url, "register", "resnet50", "2.0.0", "--artifact", "s3://models/resnet50/2.0.0")
    ok(url, "alias", "set", "resnet50", "production", "2.0.0")
    ok(url, "unregister", "resnet50", "1.0.0")
    return url, then


def test_alias_ls_at_shows_the_aliases_then(moved: tuple[str, str]) -> None:
    url, then = moved

    table = ok(url, "alias", "ls", "resnet50", "--at", then).stdout.split()
    assert table == ["ALIAS", "VERSION", "production", "1.0.0"]
    assert json_out(url, "alias", "ls", "resnet50", "--at", then) == {
        "name": "resnet50", "aliases": {"production": "1.0.0"}, "at": datetime.fromisoformat(then).isoformat()}


def test_versions_at_lists_the_versions_then_with_their_aliases(moved: tuple[str, str]) -> None:
    url, then = moved

    out = json_out(url, "versions", "resnet50", "--at", then)

    assert out["versions"] == ["1.0.0"] and out["aliases"] == {"production": "1.0.0"}
    assert ok(url, "versions", "resnet50").stdout.split()[2] == "2.0.0"  # without --at: today


def test_resolve_at_prints_the_version_then_even_one_unregistered_since(moved: tuple[str, str]) -> None:
    url, then = moved

    assert ok(url, "resolve", "resnet50", "production", "--at", then).stdout == "1.0.0\n"
    out = json_out(url, "resolve", "resnet50", "production", "--at", then)
    assert out["version"] == "1.0.0" and out["unregistered"] is True


def test_versions_before_anything_existed_exits_3_naming_the_time(moved: tuple[str, str]) -> None:
    url, _ = moved

    result = run(url, "versions", "resnet50", "--at", "2020-01-01")

    assert result.exit_code == 3
    assert "no versions at 2020-01-01T00:00:00+00:00" in result.stderr


@pytest.mark.parametrize("text", ["2026-11-20T14:00:00", "yesterday", "2026-11-20 14:00"])
def test_bad_at_text_is_a_usage_error_showing_the_forms_accepted(url: str, text: str) -> None:
    result = run(url, "alias", "ls", "resnet50", "--at", text)

    assert result.exit_code == 2
    assert "'--at'" in result.stderr and "RFC 3339" in result.stderr and "Traceback" not in result.stderr


def test_a_future_at_is_refused_saying_so(url: str) -> None:
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()

    result = run(url, "resolve", "resnet50", "latest", "--at", future)

    assert result.exit_code == 5
    assert "in the future" in result.stderr and "Traceback" not in result.stderr
