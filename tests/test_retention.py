"""The retention algorithm itself (``modelreg._retention``): paging through large registries, reporting skips."""

from __future__ import annotations

import logging

import pytest

from factories import metadata
from modelreg import MemoryRegistry
from modelreg._retention import apply, select


def test_prune_reads_every_search_page_of_a_large_registry() -> None:
    with MemoryRegistry() as registry:
        for patch in range(1205):  # more than one search page (1000)
            registry.register_model("big", f"1.0.{patch}", metadata())
        registry.register_model("small", "1.0.0", metadata())

        selection = select(registry, keep_latest=5)

        assert len(selection.pairs) == 1200
        assert selection.pairs[0] == ("big", "1.0.0") and selection.pairs[-1] == ("big", "1.0.1199")
        assert selection.counts == {"big": 1205, "small": 1}


def test_a_skipped_version_is_logged_with_why(caplog: pytest.LogCaptureFixture) -> None:
    with MemoryRegistry() as registry:
        registry.register_model("m", "1.0.0", metadata())
        registry.register_model("m", "2.0.0", metadata())
        pairs = select(registry, keep_latest=0).pairs
        registry.set_alias("m", "production", "1.0.0")
        registry.unregister_model("m", "2.0.0")

        with caplog.at_level(logging.INFO, logger="modelreg.retention"):
            assert apply(registry, pairs) == []

    assert [r.getMessage() for r in caplog.records] == [
        "prune skipped m 1.0.0: aliased meanwhile",
        "prune skipped m 2.0.0: gone meanwhile",
    ]
