"""The compare page: versions side by side, differing rows highlighted, metric deltas against the baseline."""

from __future__ import annotations

from datetime import timedelta
from html import unescape

import pytest

from factories import TRAINED, metadata
from modelreg import MemoryRegistry
from modelreg.server.ui.compare import delta, flatten
from support.pagekit import Row, get_page, table_rows


def _registry() -> MemoryRegistry:
    reg = MemoryRegistry()
    reg.register_model("m", "1.0.0", metadata(
        training_date=TRAINED, artifact_path="s3://m/1.0.0", tags={"team": "vision"},
        hyperparameters={"layers": 50, "optimizer": {"name": "sgd", "lr": 0.1}},
        performance_metrics={"top1": 0.75, "latency_ms": 12.5, "loss": 0.3}))
    reg.register_model("m", "1.1.0", metadata(
        training_date=TRAINED + timedelta(days=1), artifact_path="s3://m/1.1.0", tags={"team": "vision"},
        hyperparameters={"layers": 50.0, "optimizer": {"name": "adam", "lr": 0.1}, "warmup": True},
        performance_metrics={"top1": 0.762, "latency_ms": 12.2, "loss": 0.3}))
    reg.register_model("m", "2.0.0", metadata(
        training_date=TRAINED + timedelta(days=2), artifact_path="s3://m/2.0.0", tags={"team": "nlp"},
        hyperparameters={"layers": 50, "optimizer": {"name": "sgd", "lr": 0.1}, "warmup": 1},
        performance_metrics={"top1": 0.7}))
    reg.set_alias("m", "production", "1.1.0")
    return reg


def _rows(html: str) -> dict[str, Row]:
    """The compared rows by their label (group rows and the header left out)."""
    return {row.cells[0].removesuffix(" (differs)"): row for row in table_rows(html)[1:] if len(row.cells) > 1}


def test_versions_are_columns_in_the_order_given_with_the_first_as_baseline() -> None:
    page = get_page(_registry(), "/models/m/compare?v=1.1.0&v=v1.0.0")

    assert page.status_code == 200
    assert table_rows(page.text)[0].cells == ["Field", "1.1.0 baseline", "1.0.0"]
    rows = _rows(page.text)
    assert rows["artifact path"].cells[1:] == ["s3://m/1.1.0", "s3://m/1.0.0"]
    assert rows["aliases"].cells[1:] == ["production", "—"]
    assert rows["training date"].cells[1:] == ["2026-01-06 12:30 UTC", "2026-01-05 12:30 UTC"]


def test_metric_deltas_against_the_baseline_carry_an_arrow_a_sign_and_a_class() -> None:
    page = get_page(_registry(), "/models/m/compare?v=1.0.0&v=1.1.0&v=2.0.0")

    rows = _rows(page.text)
    assert rows["top1"].cells[1:] == ["0.75", "0.762 ▲ +0.012", "0.7 ▼ −0.05"]
    assert rows["latency_ms"].cells[1:] == ["12.5", "12.2 ▼ −0.3", "—"]
    assert rows["loss"].cells[1:] == ["0.3", "0.3 =", "—"]
    assert '<span class="up">▲ +0.012</span>' in page.text
    assert '<span class="down">▼ −0.05</span>' in page.text
    assert '<span class="same">=</span>' in page.text


def test_differing_rows_are_highlighted_and_flattened_hyperparameters_compare_as_json_values() -> None:
    page = get_page(_registry(), "/models/m/compare?v=1.0.0&v=1.1.0&v=2.0.0")

    rows = _rows(page.text)
    assert rows["optimizer.name"].classes == "diff" and rows["optimizer.name"].cells[1:] == ["sgd", "adam", "sgd"]
    assert rows["optimizer.lr"].classes == ""  # the same everywhere
    assert rows["layers"].classes == ""  # 50 and 50.0 are the same number
    assert rows["warmup"].classes == "diff" and rows["warmup"].cells[1:] == ["—", "true", "1"]  # true is not 1
    assert rows["team"].classes == "diff" and rows["team"].cells[1:] == ["vision", "vision", "nlp"]


def test_only_differences_hides_the_rows_where_every_version_agrees() -> None:
    everything = get_page(_registry(), "/models/m/compare?v=1.0.0&v=1.1.0")
    differences = get_page(_registry(), "/models/m/compare?v=1.0.0&v=1.1.0&diff=1")

    assert 'href="/models/m/compare?v=1.0.0&amp;v=1.1.0&amp;diff=1">Only differences</a>' in everything.text
    shown = _rows(differences.text)
    assert "optimizer.name" in shown and "warmup" in shown and "top1" in shown
    assert not {"layers", "optimizer.lr", "loss", "team"} & set(shown)
    assert all(row.classes == "diff" for row in shown.values())
    same = [label for label, row in _rows(everything.text).items() if row.classes != "diff"]
    assert {"layers", "optimizer.lr", "loss", "team"} <= set(same)
    assert f"({len(same)} identical rows hidden)" in differences.text


@pytest.mark.parametrize(("query", "status", "detail"), [
    ("v=1.0.0", 400, "choose 2 to 8 versions to compare (?v=1.0.0&v=1.1.0), not 1"),
    ("", 400, "not 0"),
    ("&".join(f"v=1.0.{i}" for i in range(9)), 400, "not 9"),
    ("v=1.0.0&v=1.x", 422, "1.x"),
    ("v=1.0.0&v=3.0.0", 404, "3.0.0"),
    ("v=1.0.0&v=v1.0.0", 400, "version 1.0.0 is given more than once"),
])
def test_a_wrong_number_of_versions_or_a_bad_one_is_an_error_page(query: str, status: int, detail: str) -> None:
    page = get_page(_registry(), f"/models/m/compare?{query}")

    assert page.status_code == status
    assert '<h1 id="error-title">' in page.text and detail in unescape(page.text)


def test_an_unknown_model_is_404() -> None:
    page = get_page(_registry(), "/models/nope/compare?v=1.0.0&v=1.1.0")

    assert page.status_code == 404 and "nope" in page.text


def test_flatten_joins_nested_keys_with_dots_and_keeps_empty_objects_and_lists_as_values() -> None:
    assert flatten({"a": {"b": {"c": 1}, "d": []}, "e": {}, "f": "x"}) == {"a.b.c": 1, "a.d": [], "e": {}, "f": "x"}


def test_delta_rounds_float_noise_and_names_the_direction() -> None:
    assert delta(0.77, 0.758) == ("▲ +0.012", "up")
    assert delta(1.0, 1.3) == ("▼ \u22120.3", "down")
    assert delta(5.0, 5.0) == ("=", "same")
    assert delta(1500.0, 500.0) == ("▲ +1000", "up")


def test_fact_rows_differ_by_what_they_show_so_seconds_apart_is_not_highlighted() -> None:
    reg = _registry()
    reg.register_model("m", "2.0.1", metadata(training_date=TRAINED + timedelta(days=2, seconds=10),
                                              artifact_path="s3://m/2.0.0"))

    page = get_page(reg, "/models/m/compare?v=2.0.0&v=2.0.1")

    rows = _rows(page.text)
    assert rows["training date"].cells[1] == rows["training date"].cells[2]
    assert rows["training date"].classes == "" and rows["artifact path"].classes == ""
    assert _rows(get_page(reg, "/models/m/compare?v=1.0.0&v=2.0.0").text)["training date"].classes == "diff"
