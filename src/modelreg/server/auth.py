"""Bearer-token auth: the tokens of a tokens file (format and editing: ``modelreg._tokenfile``) checked per request.

``modelreg tokens add NAME ROLE --file F`` (``add_token``) writes one, ``tokens list`` and
``tokens revoke NAME`` (``revoke_token``) edit it; a running server notices a changed file
within about a second (``RELOAD_INTERVAL``). ``$MODELREG_SERVER_TOKENS`` holds the same JSON,
or the compact form ``name:role:sha256[,name:role:sha256...]``. ``python -m
modelreg.server.auth hash TOKEN`` prints the hash of an existing token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from .._config import TOKEN
from .._tokenfile import (
    Role,
    Token,
    add_token,
    hash_token,
    parse_tokens,
    read_tokens_file,
    revoke_token,
    token_entry,
    unique_tokens,
)
from .problems import HTTPProblem

__all__ = [
    "RELOAD_INTERVAL",
    "TOKENS_ENV",
    "Auth",
    "Role",
    "Token",
    "add_token",
    "hash_token",
    "load_auth",
    "read_tokens_file",
    "revoke_token",
]

TOKENS_ENV = "MODELREG_SERVER_TOKENS"
RELOAD_INTERVAL = 1.0
"""Seconds between checks of a served tokens file for changes (made on a request, never more often)."""
_log = logging.getLogger("modelreg.server")
_BEARER = re.compile(rf"[Bb][Ee][Aa][Rr][Ee][Rr] +({TOKEN.pattern}) *", re.ASCII)


class Auth:
    """The configured tokens; ``identify`` maps an Authorization header to a Token.

    Made by ``load_auth`` with a tokens file, it re-reads that file when it changes (checked at
    most once per ``RELOAD_INTERVAL``, on a request), so adding or revoking a token needs no restart.
    """

    def __init__(self, tokens: Iterable[Token]) -> None:
        self.tokens: tuple[Token, ...] = unique_tokens(tokens)
        if not self.tokens:
            raise ValueError("auth needs at least one token (pass auth=None to serve anonymously)")
        self._watched: _WatchedFile | None = None

    def identify(self, header: str | None) -> Token:
        """The token an ``Authorization: Bearer …`` header presents (HTTPProblem 401 if none matches)."""
        if self._watched is not None:
            self._watched.refresh(self)
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

    def named(self, name: str) -> Token | None:
        """The configured token called ``name`` now (after a reload of a changed file), or None."""
        if self._watched is not None:
            self._watched.refresh(self)
        for token in self.tokens:
            if token.name == name:
                return token
        return None

    def __repr__(self) -> str:
        return f"<Auth tokens={[t.name for t in self.tokens]}>"


_Stamp = tuple[int, int, int]


def _stamp(path: Path) -> _Stamp:
    """What changes when the file is rewritten in place or replaced by a rename."""
    st = path.stat()
    return st.st_mtime_ns, st.st_size, st.st_ino


class _WatchedFile:
    """A served tokens file: re-read when its stamp changes; a broken version keeps the last good tokens."""

    def __init__(self, path: Path, stamp: _Stamp, fixed: tuple[Token, ...]) -> None:
        self.path = path
        self.fixed = fixed  # the tokens from $MODELREG_SERVER_TOKENS, merged into every reload
        self._stamp: _Stamp | None = stamp
        self._refused: _Stamp | None = None  # the broken version already logged, so it is logged once
        self._due = time.monotonic() + RELOAD_INTERVAL

    def refresh(self, auth: Auth) -> None:
        """Reload ``auth.tokens`` if the file changed since the last check, at most once per interval."""
        now = time.monotonic()
        if now < self._due:
            return
        self._due = now + RELOAD_INTERVAL
        try:
            stamp = _stamp(self.path)
        except OSError as exc:
            self._broken(_MISSING, exc)
            return
        if stamp == self._stamp or stamp == self._refused:
            return
        source = f"tokens file {str(self.path)!r}"
        try:
            tokens = unique_tokens([*parse_tokens(self.path.read_text(encoding="utf-8"), source), *self.fixed])
        except (OSError, ValueError) as exc:
            self._broken(stamp, exc)
            return
        self._stamp, self._refused = stamp, None
        auth.tokens = tokens
        if tokens:
            _log.info("%s changed: now %d token(s): %s", source, len(tokens), ", ".join(t.name for t in tokens))
        else:
            _log.warning("%s changed and holds no tokens: every request that needs a token is refused", source)

    def _broken(self, stamp: _Stamp, exc: Exception) -> None:
        """Log one error line per broken version of the file; the tokens stay as they were."""
        if stamp == self._refused:
            return
        self._refused = stamp
        # Parse errors already name the file and the entry; an OSError names neither.
        reason = f"tokens file {str(self.path)!r}: {exc.strerror or exc}" if isinstance(exc, OSError) else str(exc)
        _log.error("%s; not reloaded, still serving the tokens loaded before", reason)


_MISSING: _Stamp = (-1, -1, -1)


def _unauthorized(detail: str) -> HTTPProblem:
    return HTTPProblem("unauthorized", detail, headers={"WWW-Authenticate": 'Bearer realm="modelreg"'})


def load_auth(
    tokens_file: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Auth | None:
    """Tokens from ``tokens_file`` and ``$MODELREG_SERVER_TOKENS`` together; None when neither is given.

    A file or variable that is given but holds no token is a ValueError: serving without
    auth because a tokens list came out empty would open the registry to everyone.
    """
    env = os.environ if environ is None else environ
    from_file: list[Token] = []
    fixed: list[Token] = []
    if tokens_file is not None:
        path = Path(tokens_file)
        try:
            stamp = _stamp(path)  # before reading: a change made meanwhile is seen by the first reload
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read tokens file {str(path)!r}: {exc.strerror or exc}") from None
        from_file = _some_tokens(text, f"tokens file {str(path)!r}")
    if env.get(TOKENS_ENV, "").strip():  # set but blank counts as unset, as shells make it easy to do
        fixed = _some_tokens(env[TOKENS_ENV], f"${TOKENS_ENV}")
    if not from_file and not fixed:
        return None
    auth = Auth([*from_file, *fixed])
    if tokens_file is not None:
        auth._watched = _WatchedFile(Path(tokens_file), stamp, tuple(fixed))
    return auth


def _some_tokens(text: str, source: str) -> list[Token]:
    tokens = parse_tokens(text, source)
    if not tokens:
        raise ValueError(
            f"{source} holds no tokens; add one (modelreg tokens add NAME ROLE --file FILE) "
            "or stop passing it to serve anonymously"
        )
    return tokens


# -- python -m modelreg.server.auth ---------------------------------------------------------

_USAGE = """\
usage: python -m modelreg.server.auth hash [TOKEN]   print the SHA-256 a tokens file stores for TOKEN
                                                     (read from stdin when omitted)
       python -m modelreg.server.auth new NAME ROLE  print a new random token and its tokens-file entry

To edit a tokens file, use the modelreg command line instead:
       modelreg tokens add NAME ROLE --file FILE     add a token (prints its secret once; stores its hash)
       modelreg tokens list --file FILE              list the tokens' names and roles
       modelreg tokens revoke NAME --file FILE       remove a token
A server started with --tokens-file FILE notices a changed file within about a second.
ROLE is read, write or admin."""


def _main(argv: list[str]) -> int:
    if argv[:1] in (["-h"], ["--help"], ["help"]):
        print(_USAGE)
        return 0
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
            entry = token_entry({"name": argv[1], "role": argv[2], "sha256": hash_token(token)}, "new token")
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"token (give this to the client; it is not stored): {token}")
        print(json.dumps({"name": entry.name, "role": entry.role.name.lower(), "sha256": entry.sha256}))
        return 0
    print(_USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
