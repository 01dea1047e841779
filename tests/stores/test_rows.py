"""The stores' load path: rows into a snapshot of stored (undecoded) metadata, one model at a time."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from factories import metadata
from modelreg import MemoryRegistry, ModelMetadata, StoreError
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


def _damaged(path: Path, old: str, new: str, version: str = "1.0.0") -> None:
    """Replace ``old`` by ``new`` in the stored metadata of ``m version``, as an edit outside modelreg would."""
    with closing(sqlite3.connect(path)) as conn, conn:
        (text,) = conn.execute("SELECT metadata FROM versions WHERE version = ?", (version,)).fetchone()
        assert old in text
        conn.execute("UPDATE versions SET metadata = ? WHERE version = ?", (text.replace(old, new), version))


def _store(path: Path, **overrides: object) -> None:
    with SqliteRegistry(path) as registry:
        registry.register_model("m", "1.0.0", metadata(description="d", **overrides))
        registry.register_model("m", "2.0.0", metadata())


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("2026-01-05T12:30:00", "2026-13-05T12:30:00", "month must be in 1..12"),
        ("2026-01-05T12:30:00", "2026-02-30T12:30:00", "day is out of range for month"),
        ("2026-01-05T12:30:00", "2025-02-29T12:30:00", "day is out of range for month"),
        ("2026-01-05T12:30:00", "2026-01-05T24:30:00", "hour must be in 0..23"),
        ("2026-01-05T12:30:00", "2026-01-05\x0112:30:00", "Invalid control character"),
        ('"team":"vision"', '"team":"vi\\qsion"', "Invalid \\\\escape"),
        ('"team":"vision"', '"team":"vi\\u00"', "Invalid \\\\uXXXX escape"),
        ('"description":"d"', '"description":"d\x01"', "Invalid control character"),
        ('"artifact_path":"s3:', '"artifact_path":"s3\n:', "Invalid control character"),
        ('"top1":0.761', '"top1":1e400', "not a finite number"),
        ('"top1":0.761', '"top1":-' + "9" * 400 + ".0", "not a finite number"),
        ('"top1":0.761', '"top1":1' + "0" * 400, "OverflowError"),
    ],
)
def test_a_row_damaged_outside_its_hyperparameters_is_refused_at_open_naming_the_version(
    tmp_path: Path, old: str, new: str, reason: str
) -> None:
    path = tmp_path / "reg.db"
    _store(path)
    _damaged(path, old, new)

    with pytest.raises(StoreError, match=rf"stored metadata of m 1\.0\.0 in SQLite database .* unreadable .*{reason}"):
        SqliteRegistry(path)


@pytest.mark.parametrize(
    ("old", "new", "read"),
    [
        ('"team":"vision"', '"team":"vision","team":"nlp"', {"tags": {"team": "nlp"}}),  # the last, as json keeps
        ('"team":"vision"', '"team":"vision","t\\u0065am":"nlp"', {"tags": {"team": "nlp"}}),
        ('"team":"vision"', '"team":"vision","a":"b","team":"nlp"', {"tags": {"team": "nlp", "a": "b"}}),
        ('"top1":0.761', '"top1":0.761,"top1":0.5', {"performance_metrics": {"top1": 0.5, "top5": 0.93}}),
        ('"top5":0.93', '"top5":0.93,"top1":0.5', {"performance_metrics": {"top1": 0.5, "top5": 0.93}}),
        ('"top5":0.93', '"top5":0.93,"top5":0.5', {"performance_metrics": {"top1": 0.761, "top5": 0.5}}),
        ('"top5":0.93', '"top5":0.93,"top1":0.5,"top2":0.6', {"performance_metrics": {"top1": 0.5, "top5": 0.93,
                                                                                       "top2": 0.6}}),
        ('"top1":0.761', '"t\\u006fp1":0.761', {"performance_metrics": {"top1": 0.761, "top5": 0.93}}),
        ('"top1":0.761', '"top1":1e-400', {"performance_metrics": {"top1": 0.0, "top5": 0.93}}),
        ('"top1":0.761', '"top1":7.61E-1', {"performance_metrics": {"top1": 0.761, "top5": 0.93}}),
        ('"top1":0.761', '"top1":0.' + "0" * 30 + "1", {"performance_metrics": {"top1": 1e-31, "top5": 0.93}}),
        ("2026-01-05T12:30:00", "2024-02-29T12:30:00", {"training_date": "2024-02-29T12:30:00+00:00"}),
        ("2026-01-05T12:30:00", "2026-01-05 12:30:00", {"training_date": "2026-01-05T12:30:00+00:00"}),
    ],
)
def test_a_readable_row_whose_text_would_not_be_sent_as_it_is_is_decoded_at_open(
    tmp_path: Path, old: str, new: str, read: dict[str, object]
) -> None:
    path = tmp_path / "reg.db"
    _store(path)
    _damaged(path, old, new)

    with SqliteRegistry(path) as opened:
        held = opened._state.model("m").metadata("1.0.0")
        assert held is not None and held._text is None  # decoded: to_json writes its values, not the row's text
        meta = opened.get_metadata("m", "1.0.0")
        assert {field: meta.to_dict()[field] for field in read} == read
        assert ModelMetadata.from_json(meta.to_json()) == meta


def test_a_row_in_the_shape_modelreg_writes_with_escapes_and_exponents_stays_undecoded(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    meta = metadata(performance_metrics={"loss": 1.5e-05, "n": 1e16, "top1": -0.25}, description="line\nbreak",
                    tags={"note": 'a "quoted"\tline\\ é \u2028', "empty": "", "e": ",", "f": '","', "g:": '":"'})
    other = metadata(performance_metrics={"a,": 1.0, "b": 2.0, ",": 3.0, "c:": 4.0}, tags={})  # keys, not values
    _store(path)
    with SqliteRegistry(path) as registry:
        registry.register_model("m", "3.0.0", meta)
        registry.register_model("m", "4.0.0", other)

    with SqliteRegistry(path) as opened:
        for version, registered in (("3.0.0", meta), ("4.0.0", other)):
            assert opened._state.model("m").metadata(version)._text is not None  # type: ignore[union-attr]
            assert opened.get_metadata("m", version) == registered.with_version(version)


def test_metadata_read_from_a_damaged_row_is_refused_before_another_registry_stores_it(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    _store(path)
    _damaged(path, '"lr":0.01', '"lr":0.01.5')  # inside the hyperparameters: found when first read
    other_path = tmp_path / "other.db"

    with SqliteRegistry(path) as source, SqliteRegistry(other_path) as other:
        memory = MemoryRegistry()
        for target in (memory, other):
            with pytest.raises(StoreError, match=r"stored metadata of version 1\.0\.0 is unreadable"):
                target.register_model("m", "1.0.0", source.get_metadata("m", "1.0.0"))
            assert not target.has_version("m", "1.0.0")
        other.register_model("m", "2.0.0", source.get_metadata("m", "2.0.0"))  # an undamaged one is copied
    with SqliteRegistry(other_path) as reopened:
        assert reopened.get_metadata("m", "2.0.0") == metadata().with_version("2.0.0")
