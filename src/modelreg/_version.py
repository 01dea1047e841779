"""SemVer 2.0.0 versions: parsing, canonical text and precedence (re-exported by :mod:`modelreg.semver`).

``SemVer`` orders versions exactly as the SemVer 2.0.0 spec says (build metadata
never affects precedence or equality). There is one way to read a version from
text, ``parse_version`` (``SemVer.parse`` is the same function), one checked way to
build one from parts (``SemVer(1, 2, 3, ("rc", 1))``), and ``unchecked_version``,
the range grammar's fast constructor for parts its own regex already validated.
The identifier patterns and helpers below without an underscore are what
:mod:`modelreg._range` builds its grammar from; :mod:`modelreg.semver` is the public face.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Final, NoReturn

from modelreg.errors import InvalidVersionError

__all__ = [
    "BUILD_ID",
    "MAX_VERSION_LENGTH",
    "NUM",
    "PRE_ID",
    "REGEX_FLAGS",
    "VERSION_PATTERN",
    "Immutable",
    "PrereleaseId",
    "SemVer",
    "parse_version",
    "prerelease_id",
    "quote",
    "unchecked_version",
]

MAX_VERSION_LENGTH: Final = 256
"""Longest version text accepted (node-semver's ``MAX_LENGTH``)."""

PrereleaseId = int | str

NUM: Final = r"(?:0|[1-9][0-9]*)"
"""A numeric identifier: no leading zeros."""
PRE_ID: Final = rf"(?:{NUM}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
"""A pre-release identifier: numeric, or alphanumeric with at least one letter or hyphen."""
BUILD_ID: Final = r"[0-9A-Za-z-]+"
"""A build identifier: any non-empty alphanumeric run, leading zeros allowed."""

VERSION_PATTERN: Final = rf"""
    v?                                       # optional lowercase 'v', dropped
    (?P<major>{NUM}) \.
    (?P<minor>{NUM}) \.
    (?P<patch>{NUM})
    (?:-                                     # pre-release: dot-separated ids
        (?P<prerelease>{PRE_ID}(?:\.{PRE_ID})*)
    )?
    (?:\+                                    # build metadata: dot-separated ids
        (?P<build>{BUILD_ID}(?:\.{BUILD_ID})*)
    )?
"""
REGEX_FLAGS: Final = re.VERBOSE | re.ASCII
"""Flags for every version and range pattern: verbose, and ASCII-only digits and letters."""
_VERSION_RE: Final = re.compile(VERSION_PATTERN, REGEX_FLAGS)
_PRE_ID_RE: Final = re.compile(PRE_ID, REGEX_FLAGS)
_BUILD_ID_RE: Final = re.compile(BUILD_ID, REGEX_FLAGS)

_VERSION_HINT: Final = "expected MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], e.g. '1.4.2' or '2.0.0-rc.1'"


def quote(text: str, limit: int = 80) -> str:
    """``repr`` of *text*, cut to about *limit* characters for error messages."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[: limit - 3]!r}... ({len(text)} characters)"


def prerelease_id(text: str) -> PrereleaseId:
    """A pre-release identifier the grammar already matched; numeric ones become ints."""
    return int(text) if text.isdigit() else text


class Immutable:
    """Refuses attribute assignment and deletion after construction (``SemVer``, ``VersionRange``)."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")


@functools.total_ordering
class SemVer(Immutable):
    """An immutable SemVer 2.0.0 version, ordered by SemVer precedence.

    Numeric identifiers sort numerically and below alphanumeric ones; a
    release sorts above its pre-releases; a longer pre-release list wins when
    all earlier identifiers are equal; build metadata is ignored:

    >>> v = SemVer.parse
    >>> v("1.0.0-alpha") < v("1.0.0-alpha.1") < v("1.0.0-alpha.beta") < v("1.0.0-beta")
    True
    >>> v("1.0.0-beta.2") < v("1.0.0-beta.11") < v("1.0.0-rc.1") < v("1.0.0")
    True
    >>> v("1.0.0-2") < v("1.0.0-10") < v("1.0.0-a")
    True
    >>> v("1.0.0+a") == v("1.0.0+b"), str(v("v1.0.0+a"))
    (True, '1.0.0+a')
    """

    __slots__ = ("_key", "_str", "build", "major", "minor", "patch", "prerelease")

    major: int
    minor: int
    patch: int
    prerelease: tuple[PrereleaseId, ...]
    build: tuple[str, ...]
    _key: tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]
    _str: str

    def __init__(
        self,
        major: int,
        minor: int,
        patch: int,
        prerelease: Iterable[PrereleaseId] = (),
        build: Iterable[str] = (),
    ) -> None:
        """Build a version from parts; numeric-looking pre-release strings become ints."""
        if not all(type(n) is int and n >= 0 for n in (major, minor, patch)):
            raise InvalidVersionError(
                f"invalid version parts {(major, minor, patch)!r}: need non-negative ints"
            )
        pre: list[PrereleaseId] = []
        for p in prerelease:
            if type(p) is int and p >= 0:
                pre.append(p)
            elif isinstance(p, str) and _PRE_ID_RE.fullmatch(p):
                pre.append(prerelease_id(p))
            else:
                raise InvalidVersionError(f"invalid pre-release identifier {p!r}")
        bld = tuple(build)
        for b in bld:
            if not (isinstance(b, str) and _BUILD_ID_RE.fullmatch(b)):
                raise InvalidVersionError(f"invalid build identifier {b!r}")
        self._fill(major, minor, patch, tuple(pre), bld)
        if len(self._str) > MAX_VERSION_LENGTH:
            raise InvalidVersionError(
                f"invalid version {quote(self._str)}: longer than {MAX_VERSION_LENGTH} characters; "
                + _VERSION_HINT,
                version=self._str,
            )

    def _fill(
        self, major: int, minor: int, patch: int, pre: tuple[PrereleaseId, ...], bld: tuple[str, ...]
    ) -> None:
        """Set every slot from parts already checked (by ``__init__`` or a grammar)."""
        setter = object.__setattr__
        setter(self, "major", major)
        setter(self, "minor", minor)
        setter(self, "patch", patch)
        setter(self, "prerelease", pre)
        setter(self, "build", bld)
        # A release (flag 1) outranks every pre-release (flag 0) of its triple;
        # (0, n) puts numeric identifiers below alphanumeric (1, s) ones.
        ids = tuple((0, p) if isinstance(p, int) else (1, p) for p in pre)
        setter(self, "_key", (major, minor, patch, 0 if pre else 1, ids))
        text = f"{major}.{minor}.{patch}"
        if pre:
            text += "-" + ".".join(map(str, pre))
        if bld:
            text += "+" + ".".join(bld)
        setter(self, "_str", text)

    @staticmethod
    def parse(text: str) -> SemVer:
        """Parse SemVer 2.0.0 text (optional leading ``v``); the same function as :func:`parse_version`."""
        return parse_version(text)

    @property
    def is_prerelease(self) -> bool:
        """True when the version has pre-release identifiers."""
        return bool(self.prerelease)

    @property
    def canonical(self) -> str:
        """Canonical text: no leading ``v``, build metadata kept."""
        return self._str

    @property
    def identity(self) -> str:
        """Canonical text without build metadata; equal identity means equal versions."""
        return self._str.partition("+")[0]

    def __str__(self) -> str:
        return self._str

    def __repr__(self) -> str:
        return f"<{type(self).__name__}({self._str!r})>"

    def __hash__(self) -> int:
        return hash(self._key)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self._key == other._key

    def __lt__(self, other: SemVer) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self._key < other._key

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.major, self.minor, self.patch, self.prerelease, self.build))


def unchecked_version(
    major: int, minor: int, patch: int, prerelease: tuple[PrereleaseId, ...] = (), build: tuple[str, ...] = ()
) -> SemVer:
    """A SemVer from parts a grammar already validated, without checking them again (the fast path).

    For this module's parser and the range grammar only: anything else builds a
    version from parts with the checked ``SemVer(...)`` constructor.
    """
    version = object.__new__(SemVer)
    version._fill(major, minor, patch, prerelease, build)
    return version


def _parse(text: str) -> SemVer:
    """The parser: one verbose regex, ``fullmatch``ed; InvalidVersionError says what a version looks like."""
    if len(text) > MAX_VERSION_LENGTH:
        raise InvalidVersionError(
            f"invalid version {quote(text)}: longer than {MAX_VERSION_LENGTH} characters; " + _VERSION_HINT,
            version=text,
        )
    match = _VERSION_RE.fullmatch(text)
    if match is None:
        raise InvalidVersionError(f"invalid version {quote(text)}: {_VERSION_HINT}", version=text)
    pre_text, build_text = match["prerelease"], match["build"]
    return unchecked_version(
        int(match["major"]),
        int(match["minor"]),
        int(match["patch"]),
        tuple(prerelease_id(p) for p in pre_text.split(".")) if pre_text else (),
        tuple(build_text.split(".")) if build_text else (),
    )


_parse_version_cached: Final = functools.lru_cache(maxsize=4096)(_parse)


def parse_version(text: str) -> SemVer:
    """The one way to read a version from text (optional leading ``v``), cached; TypeError for non-str input.

    Raises InvalidVersionError, quoting the text, when it is not SemVer 2.0.0.
    """
    if not isinstance(text, str):
        raise TypeError(f"version must be a str, not {type(text).__name__}")
    return _parse_version_cached(text)
