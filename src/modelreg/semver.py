"""SemVer 2.0.0 versions and npm-style version ranges: the public module for both.

Versions live in :mod:`modelreg._version` (``SemVer``, ``parse_version``), ranges
in :mod:`modelreg._range` (``VersionRange``, ``parse_range``); this module
re-exports both, so ``from modelreg.semver import ...`` is the one import to use.

>>> parse_range("^1.2").max_satisfying(parse_version(t) for t in ("1.2.0", "1.9.9", "2.0.0"))
<SemVer('1.9.9')>
"""

from __future__ import annotations

from modelreg._range import MAX_RANGE_LENGTH, VersionRange, parse_range
from modelreg._version import MAX_VERSION_LENGTH, VERSION_PATTERN, SemVer, parse_version

__all__ = [
    "MAX_RANGE_LENGTH",
    "MAX_VERSION_LENGTH",
    "VERSION_PATTERN",
    "SemVer",
    "VersionRange",
    "parse_range",
    "parse_version",
]
