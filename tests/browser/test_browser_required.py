"""CI sets MODELREG_REQUIRE_BROWSER=1: without a browser the browser tests then fail; elsewhere they skip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.browserkit import REQUIRE_ENV

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("require", "outcome"), [("1", "1 error"), ("", "1 skipped")])
def test_missing_chromium_fails_when_required_and_skips_otherwise(tmp_path: Path, require: str, outcome: str) -> None:
    env = {**os.environ, "MODELREG_CHROMIUM": str(tmp_path / "no-chromium"), REQUIRE_ENV: require}
    test = f"{Path(__file__).parent / 'test_browser_models.py'}::test_slash_focuses_the_filter_box"
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test],
                         env=env, capture_output=True, text=True, timeout=120)

    assert outcome in run.stdout and (run.returncode != 0) == (require == "1"), run.stdout
    assert "no Chromium at" in run.stdout
