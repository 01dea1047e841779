"""npm-style version ranges (re-exported by :mod:`modelreg.semver`).

``VersionRange`` reads node-semver 7.8's range grammar in strict mode (its
classes/range.js and classes/comparator.js): carets, tildes, x-ranges, hyphen
ranges, comparators and ``||`` alternatives, with the deliberate differences
listed in docs/versions.md. Each form desugars to comparators on ``SemVer``
bounds, built from the identifier patterns of :mod:`modelreg._version`.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Iterable
from typing import Final

from modelreg._version import (
    BUILD_ID,
    NUM,
    PRE_ID,
    REGEX_FLAGS,
    Immutable,
    PrereleaseId,
    SemVer,
    parse_version,
    prerelease_id,
    quote,
    unchecked_version,
)
from modelreg.errors import InvalidVersionError

__all__ = ["MAX_RANGE_LENGTH", "VersionRange", "parse_range"]

MAX_RANGE_LENGTH: Final = 1024
"""Longest range text accepted; keeps parsing and the parse cache bounded."""


_XID = rf"(?:{NUM}|[xX*])"  # an x-range identifier: number, x, X or *


def _partial(p: str) -> str:
    """Pattern for ``v?1``, ``1.2``, ``1.x``, ``1.2.3-pre+build``; groups prefixed *p*."""
    return rf"""
        (?P<{p}v>v)?
        (?P<{p}major>{_XID})
        (?:\. (?P<{p}minor>{_XID})
            (?:\. (?P<{p}patch>{_XID})
                (?:-(?P<{p}pre>{PRE_ID}(?:\.{PRE_ID})*))?
            )?
        )?
        (?:\+{BUILD_ID}(?:\.{BUILD_ID})*)*     # builds, after any part ('1.x+b', '1+a+b'): ignored
    """


_HYPHEN_RE: Final = re.compile(rf"{_partial('f')} \s+-\s+ {_partial('t')}", REGEX_FLAGS)
_TOKEN_RE: Final = re.compile(
    rf"""
    (?P<op>~>?|\^|[<>]=?|=)?    # tilde (also ~>), caret, comparison or nothing
    \s*                         # npm allows '>= 1.2.3' and '~ 1.2'
    {_partial("")}
    (?:\s+|\Z)                  # tokens are separated by whitespace
    """,
    REGEX_FLAGS,
)

_RANGE_HINT: Final = (
    "expected comparator sets joined by '||', each either a hyphen range '1.2.3 - 2.3.4' "
    "or space-separated comparators like '1.2.3', '=1.2.3', '>1.2.3', '>=1.2.3', "
    "'<1.2.3', '<=1.2.3', '~1.2.3', '~>1.2', '^1.2.3', '1.2.x', '1.*', '*' or ''"
)

_Cmp = tuple[str, SemVer]  # (operator in "= < <= > >=", version)
_Partial = tuple[int | None, int | None, int | None, tuple[PrereleaseId, ...]]


_v: Final = unchecked_version  # bounds built from parts the grammar matched: no second check


_ZERO_PRE: Final = (0,)
_NULL: Final[_Cmp] = ("<", _v(0, 0, 0, _ZERO_PRE))  # '<0.0.0-0' matches nothing


def _get_partial(match: re.Match[str], p: str) -> _Partial:
    """Numbers of a partial; after the first x every later part counts as x."""
    parts: list[int | None] = []
    for name in ("major", "minor", "patch"):
        text = match[p + name]
        parts.append(None if text in (None, "x", "X", "*") or None in parts else int(text))
    pre_text = match[p + "pre"]
    pre = tuple(prerelease_id(i) for i in pre_text.split(".")) if pre_text and parts[2] is not None else ()
    return parts[0], parts[1], parts[2], pre


def _number_after_wildcard(match: re.Match[str], p: str) -> bool:
    """True for ``1.x.3``, ``x.1``: node-semver 7.8 refuses these as x-ranges (it still reads ``~1.x.3``)."""
    major, minor, patch = (match[p + name] for name in ("major", "minor", "patch"))
    wild = ("x", "X", "*")
    return (major in wild and minor not in (None, *wild)) or (minor in wild and patch not in (None, *wild))


def _hyphen(f: _Partial, t: _Partial, inc_pre: bool) -> list[_Cmp]:
    """``1.2 - 3.4`` => ``>=1.2.0 <3.5.0-0`` (range.js hyphenReplace)."""
    z = _ZERO_PRE if inc_pre else ()
    out: list[_Cmp] = []
    fM, fm, fp, fpre = f
    if fM is not None:  # '1' => '>=1.0.0', '1.2.3-rc' => '>=1.2.3-rc'
        out.append((">=", _v(fM, fm or 0, fp or 0, fpre or z)))
    tM, tm, tp, tpre = t
    if tM is None:  # 'x' => no upper bound
        return out
    if tm is None:
        out.append(("<", _v(tM + 1, 0, 0, _ZERO_PRE)))
    elif tp is None:
        out.append(("<", _v(tM, tm + 1, 0, _ZERO_PRE)))
    elif tpre:
        out.append(("<=", _v(tM, tm, tp, tpre)))
    elif inc_pre:
        out.append(("<", _v(tM, tm, tp + 1, _ZERO_PRE)))
    else:
        out.append(("<=", _v(tM, tm, tp)))
    return out


def _caret(
    M: int | None, m: int | None, p: int | None, pre: tuple[PrereleaseId, ...], inc_pre: bool
) -> list[_Cmp]:
    """``^1.2.3`` => ``>=1.2.3 <2.0.0-0``, ``^0.1`` => ``>=0.1.0 <0.2.0-0`` (replaceCaret)."""
    z = _ZERO_PRE if inc_pre else ()
    if M is None:
        return []
    if m is None:
        return [(">=", _v(M, 0, 0, z)), ("<", _v(M + 1, 0, 0, _ZERO_PRE))]
    if p is None:
        upper = _v(0, m + 1, 0, _ZERO_PRE) if M == 0 else _v(M + 1, 0, 0, _ZERO_PRE)
        return [(">=", _v(M, m, 0, z)), ("<", upper)]
    low = _v(M, m, p, pre)  # a full version is its own lower bound, as in ~1.2.3 (node-semver 7.8.3)
    if M == 0:
        upper = _v(0, 0, p + 1, _ZERO_PRE) if m == 0 else _v(0, m + 1, 0, _ZERO_PRE)
    else:
        upper = _v(M + 1, 0, 0, _ZERO_PRE)
    return [(">=", low), ("<", upper)]


def _tilde(
    M: int | None, m: int | None, p: int | None, pre: tuple[PrereleaseId, ...], inc_pre: bool
) -> list[_Cmp]:
    """``~1.2.3`` => ``>=1.2.3 <1.3.0-0``, ``~1`` => ``>=1.0.0 <2.0.0-0`` (replaceTilde)."""
    z = _ZERO_PRE if inc_pre else ()  # open forms start at -0, as carets and x-ranges do
    if M is None:
        return []
    if m is None:
        return [(">=", _v(M, 0, 0, z)), ("<", _v(M + 1, 0, 0, _ZERO_PRE))]
    if p is None:
        return [(">=", _v(M, m, 0, z)), ("<", _v(M, m + 1, 0, _ZERO_PRE))]
    return [(">=", _v(M, m, p, pre)), ("<", _v(M, m + 1, 0, _ZERO_PRE))]


def _xrange(
    op: str, M: int | None, m: int | None, p: int | None, pre: tuple[PrereleaseId, ...], inc_pre: bool
) -> list[_Cmp]:
    """``1.2.x``, ``>1``, ``<=1.2``, ``*`` and plain comparators (replaceXRange)."""
    z = _ZERO_PRE if inc_pre else ()
    if M is None:  # '>x' and '<x' match nothing; every other x-only form matches anything
        return [_NULL] if op in ("<", ">") else []
    if p is not None:
        return [(op or "=", _v(M, m or 0, p, pre))]
    if op in ("", "="):
        if m is None:
            return [(">=", _v(M, 0, 0, z)), ("<", _v(M + 1, 0, 0, _ZERO_PRE))]
        return [(">=", _v(M, m, 0, z)), ("<", _v(M, m + 1, 0, _ZERO_PRE))]
    if op in (">", "<="):  # '>1.2' => '>=1.3.0', '<=1.2' => '<1.3.0-0'
        M, m = (M + 1, 0) if m is None else (M, m + 1)
        op = ">=" if op == ">" else "<"
    low = _v(M, m or 0, 0, _ZERO_PRE if op == "<" else z)
    return [(op, low)]


def _desugar_set(text: str, part: str, inc_pre: bool) -> list[_Cmp]:
    """One stripped ``||``-separated *part* of *text* as comparators ([] means any)."""
    comparators: list[_Cmp] = []
    # node-semver drops '>=0.0.0' as the same as '*', but only when it reads that exact text,
    # which a version written with its 'v' ('>=v0.0.0', 'v0.0.0 - 1') is not.
    literal: set[int] = set()  # indexes in comparators
    if (hyphen := _HYPHEN_RE.fullmatch(part)) is not None:
        start = _get_partial(hyphen, "f")
        comparators = _hyphen(start, _get_partial(hyphen, "t"), inc_pre)
        if hyphen["fv"] and start[2] is not None:
            literal.add(0)
    else:
        pos = 0
        while pos < len(part):
            token = _TOKEN_RE.match(part, pos)
            if token is None:
                raise InvalidVersionError(
                    f"invalid version range {quote(text)} at {quote(part[pos:].split(' ', 1)[0], 40)}: "
                    + _RANGE_HINT,
                    version=text,
                )
            op, parts = token["op"] or "", _get_partial(token, "")
            if not op.startswith(("^", "~")) and _number_after_wildcard(token, ""):
                raise InvalidVersionError(
                    f"invalid version range {quote(text)} at {quote(token[0].strip(), 40)}: a number "
                    "cannot follow a wildcard (x, X or *) here; write e.g. '1.x', '1.2.x' or '1.2.3'",
                    version=text,
                )
            if op == "^":
                comparators += _caret(*parts, inc_pre)
            elif op.startswith("~"):
                comparators += _tilde(*parts, inc_pre)
            else:
                comparators += _xrange(op, *parts, inc_pre)
                if op == ">=" and token["v"] and parts[2] is not None:
                    literal.add(len(comparators) - 1)
            pos = token.end()
    # '>=0.0.0' (or '>=0.0.0-0' when including pre-releases) is the same as '*'.
    floor = (">=", _v(0, 0, 0, _ZERO_PRE if inc_pre else ()))
    unique: dict[_Cmp, None] = {}
    for index, cmp in enumerate(comparators):
        if cmp == _NULL:
            return [_NULL]
        if cmp != floor or index in literal:
            unique.setdefault(cmp, None)
    return list(unique)


_OPS: Final[dict[str, Callable[[SemVer, SemVer], bool]]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _format(cmp: _Cmp) -> str:
    op, bound = cmp
    return ("" if op == "=" else op) + bound.identity


class VersionRange(Immutable):
    """An npm node-semver range (strict mode), e.g. ``^1.2.3 || >=2.0.0 <3.0.0-0``.

    >>> "1.2.4" in VersionRange("^1.2.3"), "1.3.0-rc.1" in VersionRange("^1.2.3")
    (True, False)
    >>> "1.2.4-rc.1" in VersionRange("^1.2.4-rc.0")
    True
    """

    __slots__ = ("_include_prerelease", "_sets", "_text")

    _text: str
    _include_prerelease: bool
    _sets: tuple[tuple[_Cmp, ...], ...]

    def __init__(self, text: str, *, include_prerelease: bool = False) -> None:
        """Parse *text*; raise InvalidVersionError if it is not a valid range."""
        if not isinstance(text, str):
            raise TypeError(f"version range must be a str, not {type(text).__name__}")
        if len(text) > MAX_RANGE_LENGTH:
            raise InvalidVersionError(
                f"invalid version range {quote(text)}: longer than {MAX_RANGE_LENGTH} characters",
                version=text,
            )
        inc_pre = bool(include_prerelease)
        sets = [tuple(_desugar_set(text, part.strip(" \t\n\r\f\v"), inc_pre)) for part in text.split("||")]
        if len(sets) > 1:  # as node-semver: drop null sets, and any '*' set wins
            sets = [s for s in sets if s != (_NULL,)] or sets[:1]
            if () in sets:
                sets = [()]
        setter = object.__setattr__
        setter(self, "_text", text)
        setter(self, "_include_prerelease", inc_pre)
        setter(self, "_sets", tuple(sets))

    @property
    def text(self) -> str:
        """The range text exactly as given."""
        return self._text

    @property
    def include_prerelease(self) -> bool:
        """Whether pre-releases may match without a same-triple pre-release comparator."""
        return self._include_prerelease

    @property
    def normalized(self) -> str:
        """Desugared comparator sets, as node-semver's ``validRange()`` prints them."""
        return "||".join(" ".join(map(_format, s)) for s in self._sets) or "*"

    def contains(self, version: SemVer | str) -> bool:
        """True if *version* (a SemVer or version text) satisfies the range."""
        if isinstance(version, str):
            version = parse_version(version)
        elif not isinstance(version, SemVer):
            raise TypeError(f"version must be a SemVer or str, not {type(version).__name__}")
        return any(self._test_set(s, version) for s in self._sets)

    def _test_set(self, comparators: tuple[_Cmp, ...], version: SemVer) -> bool:
        if not all(_OPS[op](version, bound) for op, bound in comparators):
            return False
        if not version.prerelease or self._include_prerelease:
            return True
        # npm rule: a pre-release only matches if the set names a pre-release
        # of the same MAJOR.MINOR.PATCH (so ^1.2.3-rc.1 allows 1.2.3-rc.2
        # but not 1.2.4-rc.1).
        triple = (version.major, version.minor, version.patch)
        return any(
            bound.prerelease and (bound.major, bound.minor, bound.patch) == triple for _, bound in comparators
        )

    def __contains__(self, version: object) -> bool:
        if not isinstance(version, (SemVer, str)):
            raise TypeError(f"version must be a SemVer or str, not {type(version).__name__}")
        return self.contains(version)

    def max_satisfying(self, versions: Iterable[SemVer]) -> SemVer | None:
        """The highest of *versions* in the range (the first one on ties), or None."""
        best: SemVer | None = None
        for version in versions:
            if (best is None or version > best) and self.contains(version):
                best = version
        return best

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        extra = ", include_prerelease=True" if self._include_prerelease else ""
        return f"<{type(self).__name__}({self._text!r}{extra})>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VersionRange):
            return NotImplemented
        return (self._text, self._include_prerelease) == (other._text, other._include_prerelease)

    def __hash__(self) -> int:
        return hash((self._text, self._include_prerelease))

    def __reduce__(self) -> tuple[object, ...]:
        return (functools.partial(type(self), include_prerelease=self._include_prerelease), (self._text,))


@functools.lru_cache(maxsize=1024)
def _parse_range_cached(text: str) -> VersionRange:
    return VersionRange(text)


def parse_range(text: str) -> VersionRange:
    """Cached ``VersionRange(text)`` (pre-releases excluded); TypeError for non-str."""
    if not isinstance(text, str):
        raise TypeError(f"version range must be a str, not {type(text).__name__}")
    return _parse_range_cached(text)
