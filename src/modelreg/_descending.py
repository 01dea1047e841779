"""The page of a lone descending ``order_by`` term, without a Python ``__lt__`` per comparison.

``_search`` orders a descending string, version or date through ``_Reversed``, whose
comparisons run in Python: ten times slower than the ascending order. Here the values
compare as they are, in C, and the page is taken from the largest.
"""

from __future__ import annotations

import heapq
import itertools
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from .records import VersionRecord
from .semver import SemVer

__all__ = ["ATTRIBUTE_VALUES", "Candidate", "Descending"]

Candidate = tuple[VersionRecord, SemVer]
"""A version's record and its parsed version (what ``_search`` scans and orders)."""


def _tiebreak(c: Candidate) -> tuple[str, Any]:
    return (c[0].name, c[1]._key)


_Values = Callable[[Iterable[Candidate]], Iterable[Any]]


def _chain(index: int, attribute: str) -> _Values:
    """``attribute`` of item ``index`` of each candidate, read by C getters (no Python call per candidate)."""
    first, then = operator.itemgetter(index), operator.attrgetter(attribute)
    return lambda cs: map(then, map(first, cs))


ATTRIBUTE_VALUES: Final[Mapping[str, _Values]] = {
    "name": _chain(0, "name"),
    "version": _chain(1, "_key"),
    "registered_at": _chain(0, "registered_at"),
    "training_date": _chain(0, "metadata.training_date"),
}


@dataclass(frozen=True, slots=True)
class Descending:
    """A lone descending term, paged without ``_Reversed``: ``values`` gives plain values that compare in C.

    The page is the ``n`` largest values, with the ties at the smallest of them broken by name, then
    version, ascending, as the reversed key would; a missing parameter gets ``(0,)``, below every
    present ``(1, key)``, so it still comes last.
    """

    values: _Values
    unwrap: Callable[[Any], Any]
    """The value a cursor's decoded term key (``_Term.key_of``) stands for."""

    def page(self, matches: list[Candidate], n: int, after: tuple[Any, ...] | None) -> list[Candidate]:
        """The first ``n`` of ``matches`` after the cursor key ``after``, in the order's sequence."""
        keys = list(self.values(matches))
        if after is not None:
            bound, tie = self.unwrap(after[0]), after[1:]
            level = itertools.compress(matches, map(bound.__eq__, keys))
            matches = [*itertools.compress(matches, map(bound.__gt__, keys)), *(c for c in level if _tiebreak(c) > tie)]
            keys = list(self.values(matches))
        if len(matches) > n:
            # Candidates often come in ascending order already (one model's versions by precedence,
            # its registrations by time): checking that costs one pass in C and saves the heap.
            if all(map(operator.le, keys, itertools.islice(keys, 1, None))):
                threshold = keys[-n]
            elif keys.count(threshold := max(keys)) < n:  # else the page is all ties at the top
                # Read backwards, a mostly ascending run rarely changes the heap after its first n values.
                threshold = heapq.nlargest(n, reversed(keys))[-1]
            above = list(itertools.compress(matches, map(threshold.__lt__, keys)))
            ties = itertools.compress(matches, map(threshold.__eq__, keys))
            matches = above + heapq.nsmallest(n - len(above), ties, key=_tiebreak)
        ordered = sorted(matches, key=_tiebreak)
        values = list(self.values(ordered))
        ranks = sorted(range(len(ordered)), key=values.__getitem__, reverse=True)  # stable: ties stay in order
        return [ordered[i] for i in ranks]
