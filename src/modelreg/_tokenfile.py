"""The tokens file: bearer tokens with roles read < write < admin, stored as SHA-256 hashes.

A tokens file (JSON) looks like::

    {"tokens": [
        {"name": "ci-pipeline", "role": "write", "sha256": "<64 hex digits>"},
        {"name": "ops", "role": "admin", "sha256": "<64 hex digits>"},
        {"name": "vision-ci", "role": "write", "sha256": "<64 hex digits>", "models": ["vision-*", "bert"]}
    ]}

An entry with ``models`` (fnmatch-style globs, case-sensitive) is a scoped token: the server
shows it only the models those patterns match (docs/governance.md (Scoped tokens)); without it, every model.
``$MODELREG_SERVER_TOKENS`` holds the same JSON, or the compact form
``name:role:sha256[,name:role:sha256...]``, whose tokens are unscoped. Standard library only: the CLI edits the file
(``add_token``, ``revoke_token``) without the server, which reads it (``modelreg.server.auth``).
"""

from __future__ import annotations

import contextlib
import enum
import fnmatch
import hashlib
import json
import os
import re
import secrets
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ._config import check_token

__all__ = [
    "Role",
    "Token",
    "add_token",
    "entry_json",
    "hash_token",
    "in_scope",
    "model_patterns",
    "parse_tokens",
    "read_tokens_file",
    "revoke_token",
    "token_entry",
    "unique_tokens",
]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}", re.ASCII)
_HEX = re.compile(r"[0-9a-f]{64}", re.ASCII)
# A model name (modelreg.names) with the glob characters * ? [ ] ! added; at most 128 characters.
_PATTERN = re.compile(r"[A-Za-z0-9._*?\[\]!-]{1,128}", re.ASCII)
_MAX_PATTERNS = 256
_FIELDS = ("name", "role", "sha256", "models")


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
    """One configured token: who it is, what it may do, the SHA-256 of its secret, and the models it may see.

    ``models`` holds fnmatch-style patterns (``"vision-*"``); None means every model.
    """

    name: str
    role: Role
    sha256: str
    models: tuple[str, ...] | None = None

    def sees(self, model: str) -> bool:
        """Whether this token may see (and, with its role, change) the model called ``model``."""
        return in_scope(self.models, model)


def in_scope(models: tuple[str, ...] | None, model: str) -> bool:
    """Whether ``model`` matches one of the patterns ``models`` (None: every model does)."""
    return models is None or any(fnmatch.fnmatchcase(model, pattern) for pattern in models)


def hash_token(token: str) -> str:
    """The SHA-256 hex digest of a token, as stored in the tokens file.

    ValueError for a token no client could present (empty, spaces, non-ASCII): its hash would never match.
    """
    return hashlib.sha256(check_token(token).encode()).hexdigest()


def unique_tokens(tokens: Iterable[Token]) -> tuple[Token, ...]:
    """``tokens`` as a tuple; ValueError if two share a name or a secret."""
    found = tuple(tokens)
    names = [t.name for t in found]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"token name(s) configured twice: {', '.join(duplicated)}")
    if len({t.sha256 for t in found}) != len(found):
        raise ValueError("two configured tokens have the same hash (the same secret)")
    return found


def token_entry(entry: object, where: str) -> Token:
    """One entry (a mapping of name, role, sha256 and optional models) as a Token; ValueError naming ``where``."""
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: expected an object with name, role and sha256")
    unknown = sorted(set(entry) - set(_FIELDS))
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(_FIELDS)}")
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
    models = model_patterns(entry["models"], where) if "models" in entry else None
    return Token(name, parsed_role, digest.lower(), models)


def model_patterns(value: object, where: str) -> tuple[str, ...]:
    """A token's ``models``: a non-empty list of model-name globs; ValueError naming ``where`` otherwise."""
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(
            f"{where}: models must be a non-empty list of model name patterns such as [\"vision-*\", \"bert\"] "
            "(leave it out for a token that sees every model)"
        )
    if len(value) > _MAX_PATTERNS:
        raise ValueError(f"{where}: models has {len(value)} patterns; at most {_MAX_PATTERNS} are allowed")
    for pattern in value:
        if not isinstance(pattern, str) or _PATTERN.fullmatch(pattern) is None:
            raise ValueError(
                f"{where}: models pattern {pattern!r} must be 1-128 characters of a model name (letters, digits, "
                "'.', '_', '-') and the glob characters '*', '?', '[', ']', '!'"
            )
    return tuple(dict.fromkeys(value))  # in the order given, each once


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
        return [token_entry(entry, f"{source} token #{i + 1}") for i, entry in enumerate(entries)]
    tokens = []
    for i, item in enumerate(p for p in re.split(r"[,\s]+", stripped) if p):
        parts = item.split(":")
        if len(parts) != 3:
            raise ValueError(f"{source} entry #{i + 1}: expected name:role:sha256")
        entry = dict(zip(("name", "role", "sha256"), parts, strict=True))
        tokens.append(token_entry(entry, f"{source} entry #{i + 1}"))
    return tokens


def read_tokens_file(path: str | os.PathLike[str]) -> list[Token]:
    """The tokens a file holds (an empty list for ``{"tokens": []}``); ValueError if it is unreadable or malformed."""
    source = f"tokens file {os.fspath(path)!r}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read {source}: {exc.strerror or exc}") from None
    return parse_tokens(text, source)


def add_token(
    path: str | os.PathLike[str], name: str, role: str, models: Iterable[str] | None = None
) -> str:
    """Add a new random token to the file (created, mode 0600, if missing); return its secret.

    Only the secret's SHA-256 is written, so the returned text is the one chance to see it.
    ``models`` (globs) scopes the token to the models they match. ValueError for a bad
    name, role or pattern, or a name the file already holds.
    """
    target = Path(path)
    secret = secrets.token_urlsafe(32)
    fields: dict[str, object] = {"name": name, "role": role, "sha256": hash_token(secret)}
    if models is not None:
        fields["models"] = list(models)
    new = token_entry(fields, "new token")
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


def entry_json(token: Token) -> dict[str, object]:
    """The token as its tokens-file entry (``models`` only for a scoped token)."""
    entry: dict[str, object] = {"name": token.name, "role": token.role.name.lower(), "sha256": token.sha256}
    if token.models is not None:
        entry["models"] = list(token.models)
    return entry


def _write_tokens_file(path: Path, tokens: list[Token]) -> None:
    """Replace the file atomically (temporary file, fsync, rename): a server never reads half of it.

    A new file is private (0600); a rewritten one keeps its mode, so a group that may read it still can.
    """
    path = Path(os.path.realpath(path))  # through a symlink, so the link stays a link
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o600
    entries = [json.dumps(entry_json(t)) for t in tokens]
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
