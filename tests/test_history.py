"""``_history``: the filter's version range holds exactly the stored versions of one identity."""

from __future__ import annotations

import itertools

from modelreg._history import history_filter

# Canonical versions that share prefixes in every way a stored version can continue another.
_STORED = ["1.0.0", "1.0.0+b7", "1.0.0+a.b-c", "1.0.0-rc.1", "1.0.0-rc.1+x", "1.0.0-0", "1.0.1", "1.0.10",
           "1.0.1+a", "10.0.0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha-1", "1.0.0-Z", "1.0.0-rc.10"]


def test_the_version_range_holds_exactly_the_versions_equal_but_for_build_metadata() -> None:
    for asked, stored in itertools.product(_STORED, _STORED):
        low, high = history_filter(asked).version_range()
        same = asked.partition("+")[0] == stored.partition("+")[0]
        assert (low <= stored < high) is same, (asked, stored)


def test_fingerprints_differ_per_filter_and_are_empty_without_one() -> None:
    filters = [(None, ["alias_set"]), ("1.0.0", None), ("1.0.0", ["alias_set"]), (None, []),
               (None, ["alias_set", "registered"])]

    prints = {history_filter(version, kinds).fingerprint() for version, kinds in filters}

    assert history_filter().fingerprint() == ""
    assert len(prints) == len(filters) and "" not in prints
    same = history_filter("1.0.0", ("registered", "alias_set")).fingerprint()
    assert history_filter("v1.0.0+a", ["alias_set", "registered"]).fingerprint() == same
