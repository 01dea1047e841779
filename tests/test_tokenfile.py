"""The tokens-file format in the core: the CLI edits it without loading the server; the server reads the same."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from modelreg import _tokenfile


def test_editing_a_tokens_file_loads_neither_the_server_nor_a_third_party_package(tmp_path: Path) -> None:
    script = (
        "import sys; from modelreg.cli._tokens import tokens; from modelreg._tokenfile import add_token, "
        f"read_tokens_file; add_token({str(tmp_path / 't.json')!r}, 'ci', 'write'); "
        f"assert [t.name for t in read_tokens_file({str(tmp_path / 't.json')!r})] == ['ci']; "
        "print(sorted(m for m in sys.modules if m.startswith(('modelreg.server', 'starlette', 'uvicorn'))))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_the_server_reads_tokens_with_the_core_format_and_hash() -> None:
    from modelreg.server import auth, hash_token

    assert hash_token is _tokenfile.hash_token and auth.Role is _tokenfile.Role
    token = _tokenfile.token_entry({"name": "ops", "role": "admin", "sha256": hash_token("s3cret")}, "test")
    assert auth.Auth([token]).identify("Bearer s3cret") == token
