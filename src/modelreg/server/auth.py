"""Bearer-token auth: tokens with roles read < write < admin, stored as SHA-256 hashes.

A tokens file (JSON) looks like::

    {"tokens": [
        {"name": "ci-pipeline", "role": "write", "sha256": "<64 hex digits>"},
        {"name": "ops", "role": "admin", "sha256": "<64 hex digits>"}
    ]}

``$MODELREG_SERVER_TOKENS`` holds the same JSON, or the compact form
``name:role:sha256[,name:role:sha256...]``. Produce a hash with
``python -m modelreg.server.auth hash TOKEN`` (or a new random token with
``python -m modelreg.server.auth new NAME ROLE``).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ._config import TOKEN, check_token
from .problems import HTTPProblem

__all__ = ["TOKENS_ENV", "Auth", "Role", "Token", "hash_token", "load_auth"]

TOKENS_ENV = "MODELREG_SERVER_TOKENS"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}", re.ASCII)
_HEX = re.compile(r"[0-9a-f]{64}", re.ASCII)
_BEARER = re.compile(rf"[Bb][Ee][Aa][Rr][Ee][Rr] +({TOKEN.pattern}) *", re.ASCII)


class Role(enum.IntEnum):
    """What a token may do; each role includes the ones below it."""

    READ = 1
    WRITE = 2
    ADMIN = 3

    @classmethod
    def parse(cls, text: object) -> Role:
        """``"read"``, ``"write"`` or ``"admin"`` (ValueError otherwise)."""
        if isinstance(text, str) and text.upper() in cls.__members__:
            return cls[text.upper()]
        raise ValueError(f"unknown role {text!r}: expected 'read', 'write' or 'admin'")


@dataclass(frozen=True, slots=True)
class Token:
    """One configured token: who it is, what it may do, and the SHA-256 of its secret."""

    name: str
    role: Role
    sha256: str


def hash_token(token: str) -> str:
    """The SHA-256 hex digest of a token, as stored in the tokens file.

    ValueError for a token no client could present (empty, spaces, non-ASCII): its hash would never match.
    """
    return hashlib.sha256(check_token(token).encode()).hexdigest()


class Auth:
    """The configured tokens; ``identify`` maps an Authorization header to a Token."""

    def __init__(self, tokens: Iterable[Token]) -> None:
        self.tokens: tuple[Token, ...] = tuple(tokens)
        if not self.tokens:
            raise ValueError("auth needs at least one token (pass auth=None to serve anonymously)")
        names = [t.name for t in self.tokens]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"token name(s) configured twice: {', '.join(duplicated)}")
        if len({t.sha256 for t in self.tokens}) != len(self.tokens):
            raise ValueError("two configured tokens have the same hash (the same secret)")

    def identify(self, header: str | None) -> Token:
        """The token an ``Authorization: Bearer …`` header presents (HTTPProblem 401 if none matches)."""
        if header is None:
            raise _unauthorized("this server requires a bearer token: send 'Authorization: Bearer TOKEN'")
        match = _BEARER.fullmatch(header)
        if match is None:
            raise _unauthorized("malformed Authorization header: expected 'Bearer TOKEN'")
        digest = hashlib.sha256(match[1].encode()).hexdigest()
        found: Token | None = None
        for token in self.tokens:  # compare with every entry, in constant time each
            if hmac.compare_digest(digest, token.sha256):
                found = token
        if found is None:
            raise _unauthorized("the bearer token is not valid for this server")
        return found

    def __repr__(self) -> str:
        return f"<Auth tokens={[t.name for t in self.tokens]}>"


def _unauthorized(detail: str) -> HTTPProblem:
    return HTTPProblem("unauthorized", detail, headers={"WWW-Authenticate": 'Bearer realm="modelreg"'})


def _token(entry: object, where: str) -> Token:
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: expected an object with name, role and sha256")
    unknown = sorted(set(entry) - {"name", "role", "sha256"})
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}; allowed: name, role, sha256")
    name, role, digest = entry.get("name"), entry.get("role"), entry.get("sha256")
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise ValueError(f"{where}: name {name!r} must be 1-64 letters, digits, '.', '_', '@' or '-'")
    if not isinstance(digest, str) or _HEX.fullmatch(digest.lower()) is None:
        raise ValueError(
            f"{where}: sha256 must be 64 hex digits (make one with 'python -m modelreg.server.auth hash TOKEN')"
        )
    try:
        parsed_role = Role.parse(role)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    return Token(name, parsed_role, digest.lower())


def parse_tokens(text: str, source: str) -> list[Token]:
    """Tokens from JSON text (``{"tokens": [...]}`` or a list) or the compact env form."""
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            data = json.loads(stripped)
        except ValueError as exc:
            raise ValueError(f"{source}: not valid JSON: {exc}") from None
        entries = data.get("tokens") if isinstance(data, dict) else data
        if isinstance(data, dict) and set(data) - {"tokens"}:
            raise ValueError(f"{source}: unknown top-level field(s); expected only 'tokens'")
        if not isinstance(entries, list):
            raise ValueError(f'{source}: expected {{"tokens": [{{"name": …, "role": …, "sha256": …}}]}}')
        return [_token(entry, f"{source} token #{i + 1}") for i, entry in enumerate(entries)]
    tokens = []
    for i, item in enumerate(p for p in re.split(r"[,\s]+", stripped) if p):
        parts = item.split(":")
        if len(parts) != 3:
            raise ValueError(f"{source} entry #{i + 1}: expected name:role:sha256")
        tokens.append(_token(dict(zip(("name", "role", "sha256"), parts, strict=True)), f"{source} entry #{i + 1}"))
    return tokens


def load_auth(
    tokens_file: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Auth | None:
    """Tokens from ``tokens_file`` and ``$MODELREG_SERVER_TOKENS`` together; None when neither is given.

    A file or variable that is given but holds no token is a ValueError: serving without
    auth because a tokens list came out empty would open the registry to everyone.
    """
    env = os.environ if environ is None else environ
    tokens: list[Token] = []
    if tokens_file is not None:
        path = Path(tokens_file)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read tokens file {str(path)!r}: {exc.strerror or exc}") from None
        tokens += _some_tokens(text, f"tokens file {str(path)!r}")
    if env.get(TOKENS_ENV, "").strip():  # set but blank counts as unset, as shells make it easy to do
        tokens += _some_tokens(env[TOKENS_ENV], f"${TOKENS_ENV}")
    return Auth(tokens) if tokens else None


def _some_tokens(text: str, source: str) -> list[Token]:
    tokens = parse_tokens(text, source)
    if not tokens:
        raise ValueError(
            f"{source} holds no tokens; add one (python -m modelreg.server.auth new NAME ROLE) "
            "or stop passing it to serve anonymously"
        )
    return tokens


def _main(argv: list[str]) -> int:
    usage = (
        "usage: python -m modelreg.server.auth hash [TOKEN]   (reads TOKEN from stdin when omitted)\n"
        "       python -m modelreg.server.auth new NAME ROLE  (prints a new random token and its entry)"
    )
    if argv[:1] == ["hash"] and len(argv) <= 2:
        token = argv[1] if len(argv) == 2 else sys.stdin.readline().rstrip("\r\n")
        try:
            print(hash_token(token))
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    if argv[:1] == ["new"] and len(argv) == 3:
        token = secrets.token_urlsafe(32)
        try:
            entry = _token({"name": argv[1], "role": argv[2], "sha256": hash_token(token)}, "new token")
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"token (give this to the client; it is not stored): {token}")
        print(json.dumps({"name": entry.name, "role": entry.role.name.lower(), "sha256": entry.sha256}))
        return 0
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
