"""How soon a running ``modelreg serve`` refuses a token after ``modelreg tokens revoke`` returns.

Usage: python bench/bench_token_reload.py [--trials 10]

Starts one real server over a SQLite file with ``--tokens-file``; each trial adds a token with
``modelreg tokens add``, waits until the server accepts it, revokes it with ``modelreg tokens
revoke`` and polls every 20 ms until the server answers 401. Prints min / median / max of that
delay. The server checks its file at most once per ``RELOAD_INTERVAL`` (1 s), so expect 0-1 s.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from modelreg.server.auth import RELOAD_INTERVAL


def _modelreg(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "modelreg", *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def _wait_status(base: str, secret: str, status: int) -> None:
    headers = {"Authorization": f"Bearer {secret}"}
    while httpx.get(f"{base}/api/v1/models", headers=headers, timeout=10).status_code != status:
        time.sleep(0.02)


def main() -> None:
    """Run the trials and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    options = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="modelreg-bench-tokens-"))
    tokens = directory / "tokens.json"
    _modelreg("tokens", "add", "ops", "admin", "--file", str(tokens))
    log = (directory / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "modelreg", "--registry", f"sqlite:///{directory / 'bench.db'}", "serve", "--port",
         "0", "--no-access-log", "--tokens-file", str(tokens)], stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while (found := re.search(r"at (http://127\.0\.0\.1:\d+)", (directory / "server.log").read_text())) is None:
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(f"the server did not start:\n{(directory / 'server.log').read_text()}")
            time.sleep(0.05)
        base = found[1]
        delays = []
        for trial in range(options.trials):
            secret = _modelreg("tokens", "add", f"trial-{trial}", "read", "--file", str(tokens))
            _wait_status(base, secret, 200)
            _modelreg("tokens", "revoke", f"trial-{trial}", "--file", str(tokens))
            revoked = time.monotonic()
            _wait_status(base, secret, 401)
            delays.append(time.monotonic() - revoked)
    finally:
        server.terminate()
        server.wait(30)
        log.close()
        shutil.rmtree(directory, ignore_errors=True)
    print(f"revoke -> first 401, {options.trials} trials (reload interval {RELOAD_INTERVAL:g} s): "
          f"min {min(delays):.2f} s, median {statistics.median(delays):.2f} s, max {max(delays):.2f} s")


if __name__ == "__main__":
    main()
