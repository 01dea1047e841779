"""The model page (versions newest first, metric charts, alias history) and the version page.

Both read the in-memory snapshot, except history, which is a store read and runs in a worker
thread. The model page stays fast at 10,000 versions: the version table fetches records for
just its window of 100, and the charts and key metrics read each version's metadata once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from ...events import RegistryEvent
from ...records import ModelInfo, VersionRecord
from ...registry import ModelRegistry
from ..call import Reply
from ..problems import HTTPProblem
from .chart import ChartSeries, metric_chart
from .page import Page
from .pages import pager
from .promotion_pages import model_governance
from .render import format_metric, format_when

__all__ = ["ALIAS_MOVES_SHOWN", "VERSIONS_PER_PAGE", "alias_moves", "model_page", "version_page", "where_quote"]

VERSIONS_PER_PAGE = 100
MAX_KEY_METRICS = 4
MAX_CHARTS = 4
CHART_WIDTH, CHART_HEIGHT = 560, 220
"""Chart size in SVG units: near a chart box's width on a desktop, so its 12-unit text shows at about 12 px."""
VERSION_EVENTS_SHOWN = 100
"""Most events of a version's history its page lists (newest first); older ones are counted."""
ALIAS_MOVES_SHOWN = 50
_ALIAS_KINDS = ("alias_set", "alias_removed")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


@dataclass(frozen=True, slots=True)
class AliasMove:
    """One line of a model's alias history: ``production: 1.3.0 → 1.4.2 by ci, 2026-11-20 14:02 UTC``."""

    event: RegistryEvent
    before: str | None  # the version the alias pointed at before, None when it was new
    after: str | None  # None when it was removed

    @property
    def text(self) -> str:
        """The line as people read it."""
        alias = self.event.alias or ""
        if self.after is None:
            change = f"{self.before} → removed" if self.before else "removed"
        elif self.before is None:
            change = f"set to {self.after}"
        else:
            change = f"{self.before} → {self.after}"
        by = f" by {self.event.actor}" if self.event.actor else ""
        return f"{alias}: {change}{by}, {format_when(self.event.at)}"


def where_quote(text: str) -> str:
    """``text`` as a string literal of the ``where`` language (docs/search.md)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def paragraphs(text: str) -> list[str]:
    """A description split into paragraphs at blank lines (each escaped by the template)."""
    return [part.strip() for part in _PARAGRAPH_BREAK.split(text.strip()) if part.strip()]


def alias_moves(events: Sequence[RegistryEvent]) -> list[AliasMove]:
    """Alias events (oldest first) replayed into moves, newest first, each with the version before it."""
    current: dict[str, str] = {}
    moves: list[AliasMove] = []
    for event in events:
        if event.alias is None or event.kind not in _ALIAS_KINDS:
            continue
        before = current.get(event.alias)
        if event.kind == "alias_set" and event.version is not None:
            moves.append(AliasMove(event, before, event.version))
            current[event.alias] = event.version
        else:
            moves.append(AliasMove(event, before or event.version, None))
            current.pop(event.alias, None)
    moves.reverse()
    return moves


@dataclass(frozen=True, slots=True)
class MetricColumns:
    """Every metric of a model across its versions (precedence order): what the charts and key metrics read."""

    versions: tuple[str, ...]
    values: Mapping[str, Sequence[float | None]]  # metric -> one value or None per version
    counts: Mapping[str, int]  # metric -> how many versions have it


def metric_columns(registry: ModelRegistry, name: str, versions: Sequence[str]) -> MetricColumns:
    """One pass over every version's metadata in the snapshot (a version unregistered meanwhile has none)."""
    values: dict[str, list[float | None]] = {}
    blank = [None] * len(versions)
    for i, version in enumerate(versions):
        try:
            metrics = registry.get_metadata(name, version).performance_metrics
        except LookupError:
            continue
        for metric, value in metrics.items():
            column = values.get(metric)
            if column is None:
                column = values[metric] = list(blank)
            column[i] = value
    counts = {metric: len(column) - column.count(None) for metric, column in values.items()}
    return MetricColumns(tuple(versions), values, counts)


_Charts = dict[tuple[object, ...], str]  # (metric, marks) -> the chart's SVG


def _columns(page: Page, name: str, versions: Sequence[str]) -> tuple[MetricColumns, _Charts]:
    """The model's metric columns and its chart SVGs, derived once per registry revision."""
    revision = page.memo.revision()
    hit = page.memo.recall(("columns", name), revision)
    if isinstance(hit, tuple) and hit[0].versions == tuple(versions):
        return hit[0], hit[1]
    made = metric_columns(page.registry, name, versions), _Charts()
    page.memo.keep(("columns", name), revision, made)
    return made


async def _alias_moves(page: Page, name: str) -> list[AliasMove]:
    """The model's alias history, read from the store once per registry revision (it can be long)."""
    revision = page.memo.revision()
    hit = page.memo.recall(("moves", name), revision)
    if isinstance(hit, list):
        return hit
    moves = alias_moves(await page.call.run(partial(page.registry.history, name, kinds=_ALIAS_KINDS)))
    page.memo.keep(("moves", name), revision, moves)
    return moves


def _metric_names(page: Page, key: str, known: Mapping[str, int], limit: int, default: list[str]) -> list[str]:
    """Metric names chosen in the query (``?metrics=a,b`` or ``?chart=a&chart=b``), each one the model has."""
    given = page.args(key)
    if key == "metrics":
        given = [part.strip() for text in given for part in text.split(",") if part.strip()]
    if not given:
        return default
    chosen = list(dict.fromkeys(given))
    if len(chosen) > limit:
        raise HTTPProblem("invalid_parameter", f"{key}: choose at most {limit} metrics, not {len(chosen)}")
    unknown = [metric for metric in chosen if metric not in known]
    if unknown:
        names = sorted(known)
        listed = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
        raise HTTPProblem("invalid_parameter", f"{key}: no version of this model has the metric "
                                               f"{unknown[0][:128]!r}; its metrics are {listed or 'none'}")
    return chosen


def _window(registry: ModelRegistry, name: str, window: Sequence[str]) -> list[VersionRecord]:
    """The records of ``window`` (ascending versions) from one search over its range, newest first."""
    if not window:
        return []
    where = f"version >= {where_quote(window[0])} and version <= {where_quote(window[-1])}"
    records = list(registry.search(where, name=name, limit=len(window)).items)
    records.reverse()
    return records


def _marks(info: ModelInfo, versions: Sequence[str]) -> dict[int, list[str]]:
    """Chart marks: a version's index in precedence order -> the aliases pointing at it (a few index lookups)."""
    marks: dict[int, list[str]] = {}
    for alias, version in sorted(info.aliases.items()):
        try:
            marks.setdefault(versions.index(version), []).append(alias)
        except ValueError:
            continue  # unregistered since the versions were read
    return marks


def _chart(svgs: _Charts, columns: MetricColumns, metric: str,
           marks: Mapping[int, Sequence[str]]) -> str:
    """One metric's chart, drawn once per model revision and marks."""
    key = (metric, tuple((i, tuple(names)) for i, names in sorted(marks.items())))
    svg = svgs.get(key)
    if svg is None:
        svg = svgs[key] = metric_chart(ChartSeries(metric, columns.values[metric]), columns.versions, marks,
                                           width=CHART_WIDTH, height=CHART_HEIGHT)
    return svg


async def model_page(page: Page, name: str) -> Reply:
    """GET /models/{name}: description, facts, aliases, charts, alias history and the versions, newest first."""
    registry = page.registry
    info = registry.get_model(name)
    versions = registry.get_versions(name)
    number = page.int_arg("page", 1)
    at = pager(len(versions), number, VERSIONS_PER_PAGE)
    high = len(versions) - (number - 1) * VERSIONS_PER_PAGE
    window = versions[max(0, high - VERSIONS_PER_PAGE) : high]
    records = _window(registry, name, window)
    columns, svgs = _columns(page, name, versions)
    counts = columns.counts
    popular = sorted(counts, key=lambda metric: (-counts[metric], metric))
    key_metrics = _metric_names(page, "metrics", counts, MAX_KEY_METRICS, popular[:MAX_KEY_METRICS])
    charted = _metric_names(page, "chart", counts, MAX_CHARTS, key_metrics[:2])
    marks = _marks(info, versions)
    charts = [(metric, _chart(svgs, columns, metric, marks)) for metric in charted]
    moves = await _alias_moves(page, name)
    governance = await model_governance(page, name, info.aliases)
    return page.render(
        "model.html", nav="models", model=info, description=paragraphs(info.description), records=records,
        versions_on_page=[record.version for record in records], pager=at, key_metrics=key_metrics,
        metric_choices=sorted(counts), charted=charted, charts=charts, moves=moves[:ALIAS_MOVES_SHOWN],
        more_moves=max(0, len(moves) - ALIAS_MOVES_SHOWN), metrics_arg=", ".join(page.args("metrics")),
        **governance,
    )


def describe(event: RegistryEvent) -> str:
    """What one event of a version's history did, in words (an annotation says what it changed)."""
    if event.kind == "alias_set":
        return f"alias {event.alias} set to this version"
    if event.kind == "alias_removed":
        return f"alias {event.alias} removed from this version"
    if event.kind != "annotated" or event.detail is None:
        return event.kind
    return "annotated: " + "; ".join(_detail_parts(event.detail))


def _detail_parts(detail: Mapping[str, object]) -> list[str]:
    parts = []
    if "description" in detail:
        parts.append("description changed")
    set_tags = detail.get("set_tags")
    if isinstance(set_tags, Mapping) and set_tags:
        parts.append("tags set " + ", ".join(f"{key}={value}" for key, value in sorted(set_tags.items())))
    remove_tags = detail.get("remove_tags")
    if isinstance(remove_tags, Sequence) and not isinstance(remove_tags, str) and remove_tags:
        parts.append("tags removed " + ", ".join(str(tag) for tag in remove_tags))
    add_metrics = detail.get("add_metrics")
    if isinstance(add_metrics, Mapping) and add_metrics:
        parts.append("metrics added " + ", ".join(f"{key}={format_metric(value)}"
                                                  for key, value in sorted(add_metrics.items())))
    return parts or ["no change recorded"]


async def version_page(page: Page, name: str, version: str) -> Reply:
    """GET /models/{name}/versions/{version}: all metadata, its aliases, links to compare, and its history."""
    registry = page.registry
    metadata = registry.get_metadata(name, version)  # InvalidVersionError 422, VersionNotFoundError 404
    canonical = metadata.version or version  # stored metadata always carries its canonical version
    info = registry.get_model(name)
    found = registry.search(f"version = {where_quote(canonical)}", name=name, limit=1).items
    if not found:
        raise HTTPProblem("not_found", f"model {name!r} has no version {canonical!r} any more")
    record = found[0]
    versions = registry.get_versions(name)
    position = versions.index(canonical) if canonical in versions else -1
    previous = versions[position - 1] if position > 0 else None
    following = versions[position + 1] if 0 <= position < len(versions) - 1 else None
    events = await page.call.run(partial(registry.history, name, version=canonical))
    lines = [(event, describe(event)) for event in reversed(events[-VERSION_EVENTS_SHOWN:])]
    return page.render(
        "version.html", nav="models", model=info, record=record, metadata=metadata, previous=previous,
        following=following, history=lines, description=paragraphs(metadata.description),
        older_events=max(0, len(events) - VERSION_EVENTS_SHOWN),
    )
