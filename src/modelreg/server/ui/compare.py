"""The compare page: 2 to 8 versions of a model side by side, the first the baseline.

Rows whose values differ are marked ``.diff`` (``?diff=1`` keeps only those); each metric
shows its delta against the baseline with an arrow and a sign, so colour is never the only cue.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ...metadata import ModelMetadata
from ...records import VersionRecord
from ..call import Reply
from ..problems import HTTPProblem
from .model_pages import where_quote
from .page import Page
from .render import format_metric, format_when

__all__ = ["MAX_COMPARED", "MIN_COMPARED", "Cell", "Row", "compare_page", "delta", "flatten"]

MIN_COMPARED = 2
MAX_COMPARED = 8
_ABSENT = object()
_MINUS = "\u2212"  # a true minus sign: the same width as "+", read as minus by screen readers


@dataclass(frozen=True, slots=True)
class Cell:
    """One value of a row; ``change`` is the metric delta against the baseline (text and class), if any."""

    text: str
    change: str = ""
    direction: str = ""  # "up", "down", "same" or "" (no delta: the baseline, or a value missing)
    mono: bool = False


@dataclass(frozen=True, slots=True)
class Row:
    """One compared field: its label, a cell per version, whether the versions differ on it."""

    label: str
    cells: tuple[Cell, ...]
    differs: bool
    group: str


def flatten(value: Mapping[str, object], prefix: str = "") -> dict[str, object]:
    """Nested hyperparameters as dotted keys (``optimizer.lr``); an empty mapping stays one value."""
    flat: dict[str, object] = {}
    for key, item in value.items():
        dotted = f"{prefix}{key}"
        if isinstance(item, Mapping) and item:
            flat.update(flatten(item, dotted + "."))
        else:
            flat[dotted] = item
    return flat


def _shown(value: object) -> str:
    """A hyperparameter as text: strings as they are, anything else as JSON ('—' when absent)."""
    if value is _ABSENT:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _json_key(value: object) -> tuple[object, ...]:
    """What makes two JSON values the same: ``1`` and ``1.0`` alike, ``true`` not ``1``, absent its own."""
    if value is _ABSENT:
        return ("absent",)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return ("number", value)
    return ("json", json.dumps(value, sort_keys=True))


def _differ(values: Sequence[object], *, as_json: bool = True) -> bool:
    """Whether the versions' values are not all the same (JSON values, or plain values such as dates)."""
    keys = [_json_key(value) for value in values] if as_json else list(values)
    return any(key != keys[0] for key in keys[1:])


def delta(value: float, baseline: float) -> tuple[str, str]:
    """A metric's change against the baseline: ``('▲ +0.012', 'up')``, ``('▼ \u22120.3', 'down')`` or ``('=', 'same')``.

    The minus is U+2212, a true minus sign.
    """
    change = value - baseline
    if not math.isfinite(change):  # both finite, yet too far apart for a float: say so, never "inf"
        return "beyond float range", ""
    if change > 0:
        return f"▲ +{format_metric(float(f'{change:.4g}'))}", "up"
    if change < 0:
        return f"▼ {_MINUS}{format_metric(float(f'{-change:.4g}'))}", "down"
    return "=", "same"


def _row(label: str, group: str, values: Sequence[object], cells: Sequence[Cell]) -> Row:
    return Row(label, tuple(cells), _differ(values), group)


def _fact(label: str, cells: Sequence[Cell]) -> Row:
    """A row of facts (dates, aliases, artifact), different when what it shows differs (a date to the minute)."""
    return Row(label, tuple(cells), _differ([cell.text for cell in cells], as_json=False), "fact")


def _metric_row(metric: str, metas: Sequence[ModelMetadata]) -> Row:
    values: list[object] = [meta.performance_metrics.get(metric, _ABSENT) for meta in metas]
    base = values[0]
    cells = []
    for i, value in enumerate(values):
        if value is _ABSENT:
            cells.append(Cell("—"))
        elif i == 0 or base is _ABSENT:
            cells.append(Cell(format_metric(value)))
        else:
            assert isinstance(value, float) and isinstance(base, float)
            change, direction = delta(value, base)
            cells.append(Cell(format_metric(value), change, direction))
    return _row(metric, "metric", values, cells)


def rows(records: Sequence[VersionRecord]) -> list[Row]:
    """Every compared row: dates, aliases, artifact, hyperparameters, metrics, tags."""
    metas = [record.metadata for record in records]
    out = [
        _fact("training date", [Cell(format_when(m.training_date)) for m in metas]),
        _fact("registered", [Cell(format_when(r.registered_at) + (f" by {r.registered_by}" if r.registered_by else ""))
                             for r in records]),
        _fact("aliases", [Cell(", ".join(r.aliases) or "—") for r in records]),
        _fact("artifact path", [Cell(m.artifact_path, mono=True) for m in metas]),
    ]
    params = [flatten(m.hyperparameters) for m in metas]
    for key in sorted({key for flat in params for key in flat}):
        values = [flat.get(key, _ABSENT) for flat in params]
        out.append(_row(key, "param", values, [Cell(_shown(value), mono=True) for value in values]))
    for metric in sorted({metric for m in metas for metric in m.performance_metrics}):
        out.append(_metric_row(metric, metas))
    for tag in sorted({tag for m in metas for tag in m.tags}):
        values = [m.tags.get(tag, _ABSENT) for m in metas]
        out.append(_row(tag, "tag", values, [Cell(_shown(value)) for value in values]))
    return out


def _chosen(page: Page) -> list[str]:
    """The ``v`` parameters: 2 to 8 versions, none twice (400 page otherwise)."""
    given = [text.strip() for text in page.args("v") if text.strip()]
    if not MIN_COMPARED <= len(given) <= MAX_COMPARED:
        raise HTTPProblem("invalid_parameter", f"choose {MIN_COMPARED} to {MAX_COMPARED} versions to compare "
                                               f"(?v=1.0.0&v=1.1.0), not {len(given)}")
    return given


def compare_page(page: Page, name: str) -> Reply:
    """GET /models/{name}/compare?v=A&v=B: versions side by side, differences highlighted, deltas vs the first."""
    registry = page.registry
    info = registry.get_model(name)
    given = _chosen(page)
    metas = [registry.get_metadata(name, version) for version in given]  # 422 bad, 404 unknown
    canonical = [meta.version or version for meta, version in zip(metas, given, strict=True)]
    twice = next((version for i, version in enumerate(canonical) if version in canonical[:i]), None)
    if twice is not None:
        raise HTTPProblem("invalid_parameter", f"version {twice} is given more than once; compare distinct versions")
    where = "version in (" + ", ".join(where_quote(version) for version in canonical) + ")"
    by_version = {record.version: record for record in registry.search(where, name=name, limit=MAX_COMPARED).items}
    missing = [version for version in canonical if version not in by_version]
    if missing:
        raise HTTPProblem("not_found", f"model {name!r} has no version {missing[0]!r} any more")
    records = [by_version[version] for version in canonical]
    only_diff = page.arg("diff") == "1"
    every = rows(records)
    shown = [row for row in every if row.differs] if only_diff else every
    return page.render("compare.html", nav="models", model=info, records=records, rows=shown, only_diff=only_diff,
                       hidden=len(every) - len(shown), versions=canonical)
