"""The filters of ``history()``: one version's events, some kinds of events; checked once for every backend."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ._checks import str_arg
from ._version import parse_version
from .errors import QueryError
from .events import EVENT_KINDS, RegistryEvent

__all__ = ["HistoryFilter", "history_filter"]


@dataclass(frozen=True, slots=True)
class HistoryFilter:
    """Which events of a model ``history()`` returns; None means no filter on that field."""

    identity: str | None = None
    """The version's canonical text without build metadata: ``1.0.0+b`` matches events of ``1.0.0+a``,
    as ``get_metadata`` finds ``1.0.0+a`` by either."""
    kinds: frozenset[str] | None = None

    @property
    def unfiltered(self) -> bool:
        """True when every event of the model passes (no version, no kinds)."""
        return self.identity is None and self.kinds is None

    @property
    def none_pass(self) -> bool:
        """True when no event can pass: ``kinds`` was given empty."""
        return self.kinds is not None and not self.kinds

    def matches(self, event: RegistryEvent) -> bool:
        """Whether ``event`` (already of the model) passes the filter."""
        if self.kinds is not None and event.kind not in self.kinds:
            return False
        if self.identity is None:
            return True
        return event.version is not None and _identity(event.version) == self.identity

    def version_range(self) -> tuple[str, str]:
        """Bounds ``low <= version < high`` (bytewise) that hold exactly the stored versions of ``identity``.

        Stored versions are canonical: the identity itself or it with ``+build``; ``+`` (0x2B) sorts
        below ``,`` (0x2C), and every other character a version may continue with sorts above it.
        """
        assert self.identity is not None
        return self.identity, self.identity + ","

    def fingerprint(self) -> str:
        """A short text naming the filter, for cursors that must not continue another filter's listing."""
        if self.unfiltered:
            return ""
        kinds = "*" if self.kinds is None else ",".join(sorted(self.kinds))
        return f"version={self.identity or '*'};kinds={kinds}"


def _identity(version: str) -> str:
    head, _, _ = version.partition("+")
    return head


def history_filter(version: str | None = None, kinds: Iterable[str] | None = None) -> HistoryFilter:
    """The checked filter; InvalidVersionError for a malformed version, QueryError for an unknown kind.

    A wrong type (a version that is not a str, ``kinds`` given as one str) is a TypeError.
    """
    identity = None if version is None else parse_version(str_arg("version", version)).identity
    if kinds is None:
        return HistoryFilter(identity, None)
    if isinstance(kinds, str | bytes) or not isinstance(kinds, Iterable):
        raise TypeError(f"kinds must be an iterable of event kinds such as ('alias_set',), not {type(kinds).__name__}")
    chosen = tuple(kinds)
    for kind in chosen:
        str_arg("each of kinds", kind)
    unknown = sorted(set(chosen) - set(EVENT_KINDS))
    if unknown:
        raise QueryError(
            f"unknown event kind(s) {', '.join(repr(kind[:40]) for kind in unknown)}; "
            f"the kinds are {', '.join(EVENT_KINDS)}"
        )
    return HistoryFilter(identity, frozenset(chosen))
