"""The stores' load path: rows into a snapshot of stored (undecoded) metadata, one model at a time."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from factories import metadata
from modelreg import MemoryRegistry, StoreError
from modelreg.stores._rows import VersionRow, state_from_rows
from modelreg.stores.sqlite import SqliteRegistry

_T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _rows(models: int, versions: int) -> list[VersionRow]:
    return [
        (f"m{m}", f"1.{v}.0" + ("+b" if v % 5 == 0 else ""),
         metadata(artifact_path=f"s3://{m}/{v}").with_version(f"1.{v}.0" + ("+b" if v % 5 == 0 else "")).to_json(),
         _T0 + timedelta(seconds=v), "ci" if v % 2 else None)
        for m in range(models) for v in range(versions)
    ]


def test_rows_of_models_interleaved_give_the_same_snapshot_as_rows_grouped_by_model() -> None:
    grouped = _rows(3, 20)
    interleaved = sorted(grouped, key=lambda row: (row[1], row[0]))
    aliases = [("m1", "production", "1.3.0")]

    one = state_from_rows(grouped, aliases, [], 7, "test")
    other = state_from_rows(interleaved, aliases, [], 7, "test")

    assert one == other and one.names == ("m0", "m1", "m2") and one.revision == 7
    assert one.model("m1").record("1.3.0").aliases == ("production",)  # type: ignore[union-attr]
    assert one.model("m2").find("1.5.0") == "1.5.0+b"
    assert one.model("m0").created_at == _T0 and one.model("m0").updated_at == _T0 + timedelta(seconds=19)


def test_a_store_opens_with_its_metadata_undecoded_and_reads_what_was_registered(tmp_path: Path) -> None:
    reference = MemoryRegistry()
    with SqliteRegistry(tmp_path / "reg.db") as registry:
        for i in range(150):
            meta = metadata(performance_metrics={"top1": i / 150}, artifact_path=f"s3://m/{i}")
            registry.register_model("m", f"1.{i}.0", meta)
            reference.register_model("m", f"1.{i}.0", meta)

    with SqliteRegistry(tmp_path / "reg.db") as opened:
        assert opened._state.model("m").metadata("1.7.0")._text is not None  # type: ignore[union-attr]
        for version in reference.get_versions("m"):
            assert opened.get_metadata("m", version) == reference.get_metadata("m", version)
        assert opened.get_versions("m") == reference.get_versions("m")
        assert opened.search("metrics.top1 >= 0.5").total == reference.search("metrics.top1 >= 0.5").total


def test_a_row_damaged_inside_its_hyperparameters_is_a_store_error_naming_the_version_when_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "reg.db"
    with SqliteRegistry(path) as registry:
        registry.register_model("m", "1.0.0", metadata())
        registry.register_model("m", "2.0.0", metadata())
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE versions SET metadata = replace(metadata, '\"lr\":0.01', '\"lr\":0.01.5') "
                     "WHERE version = '1.0.0'")

    with SqliteRegistry(path) as opened:  # its shape is as modelreg writes it: checked at open, decoded on read
        assert opened.get_metadata("m", "2.0.0") == metadata().with_version("2.0.0")
        with pytest.raises(StoreError, match=r"stored metadata of version 1\.0\.0 is unreadable"):
            opened.get_metadata("m", "1.0.0").hyperparameters  # noqa: B018


def test_a_valid_row_in_another_json_layout_is_decoded_at_open_and_read_as_stored(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    with SqliteRegistry(path) as registry:
        registry.register_model("m", "1.0.0", metadata())
    with closing(sqlite3.connect(path)) as conn, conn:
        (text,) = conn.execute("SELECT metadata FROM versions").fetchone()
        conn.execute("UPDATE versions SET metadata = ?", (json.dumps(json.loads(text), indent=2, sort_keys=True),))

    with SqliteRegistry(path) as opened:
        assert opened._state.model("m").metadata("1.0.0")._text is None  # type: ignore[union-attr]
        assert opened.get_metadata("m", "1.0.0") == metadata().with_version("1.0.0")
