"""The tokens-file format in the core: the CLI edits it without loading the server; the server reads the same."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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


def _entry(**fields: object) -> dict[str, object]:
    return {"name": "ci", "role": "write", "sha256": "a" * 64, **fields}


def test_an_entry_with_models_is_a_token_scoped_to_those_globs() -> None:
    token = _tokenfile.token_entry(_entry(models=["vision-*", "bert", "exp-[0-9]?"]), "test")
    assert token.models == ("vision-*", "bert", "exp-[0-9]?")
    assert token.sees("vision-resnet") and token.sees("bert") and token.sees("exp-1a")
    assert not token.sees("bert-large") and not token.sees("Vision-resnet") and not token.sees("fraud")
    unscoped = _tokenfile.token_entry(_entry(), "test")
    assert unscoped.models is None and unscoped.sees("anything")


@pytest.mark.parametrize(("models", "says"), [
    ([], "non-empty list"),
    ("vision-*", "non-empty list"),
    ({"vision-*": True}, "non-empty list"),
    ([3], "pattern 3"),
    ([""], "pattern ''"),
    (["vision/*"], "pattern 'vision/*'"),
    (["x" * 129], "1-128 characters"),
    (["ok", None], "pattern None"),
])
def test_a_bad_models_field_is_refused_naming_the_file_and_the_entry(
    tmp_path: Path, models: object, says: str
) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"tokens": [_entry(name="fine"), _entry(models=models)]}))
    with pytest.raises(ValueError, match="tokens.json' token #2: models") as caught:
        _tokenfile.read_tokens_file(path)
    assert says in str(caught.value)


def test_a_scoped_token_keeps_its_models_when_the_file_is_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    _tokenfile.add_token(path, "vision", "read", ["vision-*"])
    _tokenfile.add_token(path, "ops", "admin")
    _tokenfile.revoke_token(path, "ops")
    (token,) = _tokenfile.read_tokens_file(path)
    assert token.models == ("vision-*",)
    with pytest.raises(ValueError, match="models must be a non-empty list"):
        _tokenfile.add_token(path, "nobody", "read", [])
    assert [t.name for t in _tokenfile.read_tokens_file(path)] == ["vision"]


def test_the_compact_environment_form_has_no_scope() -> None:
    (token,) = _tokenfile.parse_tokens(f"ci:write:{'b' * 64}", "$MODELREG_SERVER_TOKENS")
    assert token.models is None
    (scoped,) = _tokenfile.parse_tokens(json.dumps([_entry(models=["bert"])]), "$MODELREG_SERVER_TOKENS")
    assert scoped.models == ("bert",)  # the JSON form there takes models as the file does
