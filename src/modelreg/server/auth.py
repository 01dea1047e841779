"""Bearer-token auth: tokens with roles read < write < admin, stored as SHA-256 hashes.

A tokens file (JSON) looks like::

    {"tokens": [
        {"name": "ci-pipeline", "role": "write", "sha256": "<64 hex digits>"},
        {"name": "ops", "role": "admin", "sha256": "<64 hex digits>"}
    ]}

``modelreg tokens add NAME ROLE --file F`` (``add_token``) writes one, ``tokens list`` and
``tokens revoke NAME`` (``revoke_token``) edit it; a running server notices a changed file
within about a second (``RELOAD_INTERVAL``). ``$MODELREG_SERVER_TOKENS`` holds the same JSON,
or the compact form ``name:role:sha256[,name:role:sha256...]``. ``python -m
modelreg.server.auth hash TOKEN`` prints the hash of an existing token.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from .._config import TOKEN, check_token
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


def _unique(tokens: Iterable[Token]) -> tuple[Token, ...]:
    """``tokens`` as a tuple; ValueError if two share a name or a secret."""
    found = tuple(tokens)
    names = [t.name for t in found]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"token name(s) configured twice: {', '.join(duplicated)}")
    if len({t.sha256 for t in found}) != len(found):
        raise ValueError("two configured tokens have the same hash (the same secret)")
    return found


class Auth:
    """The configured tokens; ``identify`` maps an Authorization header to a Token.

    Made by ``load_auth`` with a tokens file, it re-reads that file when it changes (checked at
    most once per ``RELOAD_INTERVAL``, on a request), so adding or revoking a token needs no restart.
    """

    def __init__(self, tokens: Iterable[Token]) -> None:
        self.tokens: tuple[Token, ...] = _unique(tokens)
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
            tokens = _unique([*parse_tokens(self.path.read_text(encoding="utf-8"), source), *self.fixed])
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


# -- editing a tokens file ----------------------------------------------------------------


def read_tokens_file(path: str | os.PathLike[str]) -> list[Token]:
    """The tokens a file holds (an empty list for ``{"tokens": []}``); ValueError if it is unreadable or malformed."""
    source = f"tokens file {os.fspath(path)!r}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read {source}: {exc.strerror or exc}") from None
    return parse_tokens(text, source)


def add_token(path: str | os.PathLike[str], name: str, role: str) -> str:
    """Add a new random token to the file (created, mode 0600, if missing); return its secret.

    Only the secret's SHA-256 is written, so the returned text is the one chance to see it.
    ValueError for a bad name or role, or a name the file already holds.
    """
    target = Path(path)
    secret = secrets.token_urlsafe(32)
    new = _token({"name": name, "role": role, "sha256": hash_token(secret)}, "new token")
    with _editing(target):
        tokens = read_tokens_file(target) if target.exists() else []
        if any(t.name == name for t in tokens):
            raise ValueError(
                f"tokens file {str(target)!r} already has a token named {name!r}; "
                "revoke it first or choose another name"
            )
        _write_tokens_file(target, [*tokens, new])
    return secret


def revoke_token(path: str | os.PathLike[str], name: str) -> Token:
    """Remove the token called ``name`` from the file; return it (LookupError if there is none)."""
    target = Path(path)
    with _editing(target):
        tokens = read_tokens_file(target)
        kept = [t for t in tokens if t.name != name]
        if len(kept) == len(tokens):
            known = ", ".join(t.name for t in tokens) or "none"
            raise LookupError(f"tokens file {str(target)!r} has no token named {name!r} (its tokens: {known})")
        _write_tokens_file(target, kept)
    return next(t for t in tokens if t.name == name)


@contextlib.contextmanager
def _editing(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file's directory while reading and rewriting the file.

    The file itself is replaced by a rename, so a lock on it would be lost with the old inode;
    without any lock, a revoke racing an add could bring the revoked token back.
    """
    import fcntl  # POSIX only; imported here so the server still imports where it is missing

    directory = os.open(Path(os.path.realpath(path)).parent, os.O_RDONLY)
    try:
        fcntl.flock(directory, fcntl.LOCK_EX)
        yield
    finally:
        os.close(directory)  # releases the lock


def _write_tokens_file(path: Path, tokens: list[Token]) -> None:
    """Replace the file atomically (temporary file, fsync, rename): a server never reads half of it.

    A new file is private (0600); a rewritten one keeps its mode, so a group that may read it still can.
    """
    path = Path(os.path.realpath(path))  # through a symlink, so the link stays a link
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o600
    entries = [json.dumps({"name": t.name, "role": t.role.name.lower(), "sha256": t.sha256}) for t in tokens]
    text = '{"tokens": [' + ("\n    " + ",\n    ".join(entries) + "\n" if entries else "") + "]}\n"
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a crash
    finally:
        os.close(directory)


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
            entry = _token({"name": argv[1], "role": argv[2], "sha256": hash_token(token)}, "new token")
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
