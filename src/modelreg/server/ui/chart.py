"""One metric across a model's versions as an inline SVG chart, rendered on the server (standard library only).

``metric_chart`` returns the markup of one ``<svg>`` element: the metric's name as its title,
versions in precedence order along x, the metric on its own "nice" y scale, a line with a gap
where a version lacks the metric, and each aliased version marked with a ring, a dashed guide
and its alias names. Long series are downsampled to ``max_points`` points, keeping each
bucket's minimum and maximum (so spikes survive) and every marked version. A series with no
value at all still renders as an ``<svg>``: the title, an empty frame and "No values of
<metric> in these versions".

The ``<svg>`` has ``width="100%"`` and a viewBox of ``width`` x ``height``, so it scales to its
box; text is 12 and 14 units, so pass a ``width`` near the box's real width (e.g. 480 for a
half-page column) to keep it at 11 px or more. Its ``<title>`` and ``<desc>`` ids derive from
the metric name, so one page should hold one chart per metric.

Colours are presentation attributes and ``currentColor``, never ``style`` (the pages'
Content-Security-Policy forbids inline styles); a stylesheet restyles them by class:

- ``chart`` the ``<svg>``; ``chart-title`` its visible title; ``chart-subtitle`` the number of versions
- ``chart-plot`` the plot area's frame; ``chart-grid`` the group of horizontal grid lines
- ``chart-axis`` the x axis line and its tick marks; ``chart-ylabel`` / ``chart-xlabel`` the
  groups of tick labels
- ``chart-line`` each stretch of the line; ``chart-dot`` the point dots (drawn when points are
  few, and for a lone point between gaps)
- ``chart-mark`` the ring at a marked version; ``chart-mark-line`` its dashed vertical guide;
  ``chart-mark-label`` the alias names above the plot
- ``chart-empty`` the "No values" text
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["ChartSeries", "metric_chart"]

LINE = "#2563eb"
"""The line's colour: 5.2:1 against white, still above 3:1 against a dark page."""
MARK = "#c2410c"
"""Rings and guides of marked versions: 5.2:1 against white."""

_FONT = 12
_TITLE_FONT = 14
_CHAR = 0.6 * _FONT  # estimated advance of one character; labels are placed so estimates never collide
_PAD = 12
_ROW = 15  # height of one row of mark labels
_MAX_ROWS = 3
_MAX_LABEL = 20  # characters of a version label before it is shortened with an ellipsis
_DOT_SPACING = 6.0  # draw dots when kept points are at least this many px apart
_SLUG = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class ChartSeries:
    """One metric's values across a model's versions, in precedence order; None where a version lacks it."""

    metric: str
    values: Sequence[float | None]


@dataclass(frozen=True, slots=True)
class _Frame:
    """The plot area in viewBox units and the y domain drawn in it."""

    left: float
    top: float
    right: float
    bottom: float
    n: int
    lo: float
    hi: float

    def x(self, index: int) -> float:
        """The x of a version's index: first at the left edge, last at the right, one version centred."""
        if self.n <= 1:
            return (self.left + self.right) / 2
        return self.left + (self.right - self.left) * index / (self.n - 1)

    def y(self, value: float) -> float:
        """The y of a value in the domain, bottom for ``lo``; halved arithmetic where a span could overflow."""
        if abs(self.lo) < 1e307 and abs(self.hi) < 1e307:
            span, off = self.hi - self.lo, value - self.lo
        else:
            span, off = self.hi / 2 - self.lo / 2, value / 2 - self.lo / 2
        frac = off / span if span > 0 else 0.5
        return self.bottom - (self.bottom - self.top) * min(1.0, max(0.0, frac))


def metric_chart(series: ChartSeries, versions: Sequence[str], marks: Mapping[int, Sequence[str]], *,
                 width: int = 720, height: int = 220, max_points: int = 400) -> str:
    """One chart (an <svg> element) of one metric across versions; marks: index -> alias names at that version."""
    n = len(versions)
    if len(series.values) != n:
        raise ValueError(f"chart of {series.metric!r}: {len(series.values)} values for {n} versions; "
                         "pass one value (or None) per version")
    if width < 240 or height < 120:
        raise ValueError(f"chart size {width}x{height} is too small; width must be >= 240 and height >= 120")
    if max_points < 8:
        raise ValueError(f"max_points must be at least 8, not {max_points}")
    bad = sorted(i for i in marks if not 0 <= i < n)
    if bad:
        raise ValueError(f"chart of {series.metric!r}: mark at index {bad[0]} is outside the {n} versions")
    if any(isinstance(names, str) for names in marks.values()):
        raise TypeError("marks map an index to a sequence of alias names, e.g. {3: ['production']}, not to a str")
    values, finite = _clean(series.values)
    marked = {i: tuple(names) for i, names in sorted(marks.items()) if names}
    ident = _ident(series.metric)
    if not finite:
        head = _head(series.metric, versions, values, None, marked, ident, width, height)
        return head + _empty(series.metric, width, height) + "</svg>"
    lo, hi = min(finite), max(finite)
    head = _head(series.metric, versions, values, (len(finite), lo, hi), marked, ident, width, height)
    frame, ticks, placed = _frame(lo, hi, n, marked, width, height)
    runs = downsample(values, list(marked), max_points, finite=len(finite))
    return "".join((head, _grid(frame, ticks), _x_axis(frame, versions, width),
                    _marks_behind(frame, versions, placed), _line(frame, versions, runs),
                    _marks_front(frame, versions, values, marked), "</svg>"))


def _clean(raw: Sequence[float | None]) -> tuple[list[float | None], list[float]]:
    """The values with every non-finite one as None, and the finite ones alone (one C-speed pass when all are)."""
    values = list(raw)
    if None not in values and math.isfinite(sum(values)):  # type: ignore[arg-type]  # no None, checked just before
        return values, values  # type: ignore[return-value]
    values = [v if v is not None and math.isfinite(v) else None for v in values]
    return values, [v for v in values if v is not None]


def _ident(metric: str) -> str:
    """An id for the title and desc, valid whatever the name holds, and distinct for distinct names."""
    digest = hashlib.blake2s(metric.encode(), digest_size=4).hexdigest()
    return f"chart-{_SLUG.sub('-', metric)[:32]}-{digest}"


def _head(metric: str, versions: Sequence[str], values: list[float | None], summary: tuple[int, float, float] | None,
          marked: dict[int, tuple[str, ...]], ident: str, width: int, height: int) -> str:
    """The <svg> start tag, <title>, <desc> and the visible title."""
    n = len(versions)
    noun = "version" if n == 1 else "versions"
    label = f"{metric} across {n:,} {noun}"
    if summary:
        count, lo, hi = summary
        desc = (f"{metric} over {n:,} {noun} in precedence order ({versions[0]} to {versions[-1]}); "
                f"{count:,} with a value; min {_value(lo)} at {versions[values.index(lo)]}, "
                f"max {_value(hi)} at {versions[values.index(hi)]}.")
    else:
        desc = f"{metric} over {n:,} {noun}: no version has a value."
    if marked:
        desc += " Marked: " + "; ".join(f"{', '.join(names)} at {versions[i]} ({_value(values[i])})"
                                       for i, names in marked.items()) + "."
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-labelledby="{ident}-t" '
            f'aria-describedby="{ident}-d" viewBox="0 0 {width} {height}" width="100%" '
            f'preserveAspectRatio="xMidYMid meet" font-family="system-ui, sans-serif" font-size="{_FONT}">'
            f'<title id="{ident}-t">{escape(label)}</title><desc id="{ident}-d">{escape(desc)}</desc>'
            + _titles(metric, f"{n:,} {noun}", width))


def _titles(metric: str, subtitle: str, width: int) -> str:
    """The visible title (the metric, cut to fit) on the left and the number of versions on the right."""
    room = width - 2 * _PAD - len(subtitle) * _CHAR - 16
    return (f'<text class="chart-title" x="{_PAD}" y="20" font-size="{_TITLE_FONT}" font-weight="600" '
            f'fill="currentColor">{escape(_short(metric, max(4, int(room // (0.62 * _TITLE_FONT)))))}</text>'
            f'<text class="chart-subtitle" x="{width - _PAD}" y="20" text-anchor="end" fill="currentColor" '
            f'fill-opacity="0.75">{escape(subtitle)}</text>')


def _value(v: float | None) -> str:
    """A value for the description and tooltips: six significant digits, or "no value"."""
    return "no value" if v is None else f"{v:.6g}"


def _empty(metric: str, width: int, height: int) -> str:
    """The frame and message of a chart whose series has no value."""
    top, bottom = 34, height - _PAD
    return (f'<rect class="chart-plot" x="{_PAD}" y="{top}" width="{width - 2 * _PAD}" height="{bottom - top}" '
            f'fill="none" stroke="currentColor" stroke-opacity="0.25"/>'
            f'<text class="chart-empty" x="{width / 2:.1f}" y="{(top + bottom) / 2 + 4:.1f}" text-anchor="middle" '
            f'fill="currentColor">No values of {escape(metric)} in these versions</text>')


def _frame(lo: float, hi: float, n: int, marked: dict[int, tuple[str, ...]], width: int,
           height: int) -> tuple[_Frame, list[float], list[_Flag]]:
    """The plot area (room left for y labels, above for mark labels), its y ticks and the mark labels' places."""
    frame, ticks = _area(lo, hi, n, 0, width, height)
    placed = _mark_rows(frame, marked, width, _MAX_ROWS)
    rows = 1 + max((f.row for f in placed), default=-1)
    if rows:  # a lower top can change the ticks and so the left edge: place the labels again, in as many rows
        frame, ticks = _area(lo, hi, n, rows, width, height)
        placed = _mark_rows(frame, marked, width, rows)
    return frame, ticks, placed


def _area(lo: float, hi: float, n: int, rows: int, width: int, height: int) -> tuple[_Frame, list[float]]:
    """The plot area below the title and ``rows`` rows of mark labels, and its y ticks."""
    top = 34 + _ROW * rows
    bottom = height - 30
    ticks = nice_ticks(lo, hi, max(2, min(6, int(bottom - top) // 36)))
    fmt = tick_format(ticks)
    widest = max(len(fmt(t)) for t in ticks) * _CHAR
    return _Frame(_PAD + widest + 8, top, width - _PAD - 6, bottom, n, ticks[0], ticks[-1]), ticks


def nice_ticks(lo: float, hi: float, target: int) -> list[float]:
    """About ``target`` y ticks at 1-2-5 steps covering [lo, hi]; just the ends where no step fits a float."""
    if lo == hi:
        pad = abs(lo) * 0.1
        lo, hi = (lo - pad, hi + pad) if lo - pad < hi + pad else (lo - 1.0, hi + 1.0)
    raw = (hi / 2 - lo / 2) * 2 / target
    if not (math.isfinite(raw) and raw > 0):
        return [lo, hi]
    exp = math.floor(math.log10(raw))
    if abs(exp) > 300:  # 10.0 ** 309 overflows; steps this far out are near the float's ends anyway
        return [lo, hi]
    scale = 10.0 ** abs(exp)
    frac = raw / scale if exp >= 0 else raw * scale
    m = next(s for s in (1, 2, 5, 10) if frac <= s * (1 + 1e-9))

    def at(k: int) -> float:  # k * step, divided rather than multiplied by 10**-e so 3 * 0.1 prints as 0.3
        return k * m * scale if exp >= 0 else k * m / scale

    step = at(1)
    if not (math.isfinite(step) and step > 0):
        return [lo, hi]
    k0, k1 = math.floor(lo / step), math.ceil(hi / step)
    ticks = [at(k) for k in range(k0, k1 + 1)]
    if len(ticks) < 2 or len(ticks) > 4 * target or not all(math.isfinite(t) for t in ticks):
        return [lo, hi]
    return ticks


def tick_format(ticks: Sequence[float]) -> Callable[[float], str]:
    """One compact label format for all ticks of an axis: ``0.75``, ``1.2k``, ``3e-05``, by magnitude and step."""
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 0.0
    top = max(abs(t) for t in ticks)
    if not (math.isfinite(step) and step > 0 and top > 0):
        return lambda v: f"{v:.3g}"
    if top >= 1e15 or top < 1e-3:
        digits = max(1, min(15, math.floor(math.log10(top)) - math.floor(math.log10(step) + 1e-9) + 1))
        return lambda v: "0" if v == 0 else f"{v:.{digits}g}"
    unit, suffix = next(((u, s) for u, s in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")) if top >= u),
                        (1.0, ""))
    decimals = max(0, min(12, -math.floor(math.log10(step / unit) + 1e-9)))
    if suffix:
        return lambda v: "0" if v == 0 else f"{v / unit:.{decimals}f}{suffix}"
    return lambda v: f"{v:.{decimals}f}"


def _grid(frame: _Frame, ticks: list[float]) -> str:
    """A light grid line and a right-aligned label at every y tick."""
    fmt = tick_format(ticks)
    lines, labels = [], []
    for t in ticks:
        y = frame.y(t)
        lines.append(f'<line x1="{frame.left:.1f}" y1="{y:.1f}" x2="{frame.right:.1f}" y2="{y:.1f}"/>')
        labels.append(f'<text x="{frame.left - 8:.1f}" y="{y + 4:.1f}">{escape(fmt(t))}</text>')
    plot = (f'<rect class="chart-plot" x="{frame.left:.1f}" y="{frame.top:.1f}" width="{frame.right - frame.left:.1f}" '
            f'height="{frame.bottom - frame.top:.1f}" fill="none"/>')
    return (f'{plot}<g class="chart-grid" stroke="currentColor" stroke-opacity="0.12">{"".join(lines)}</g>'
            f'<g class="chart-ylabel" fill="currentColor" text-anchor="end">{"".join(labels)}</g>')


def _x_axis(frame: _Frame, versions: Sequence[str], width: int) -> str:
    """The x axis line, and a handful of version labels with tick marks that do not overlap."""
    ticks, labels = [], []
    base = frame.bottom
    for i, cx in x_labels(frame, versions, width):
        x, text = frame.x(i), _short(versions[i])
        ticks.append(f'<line x1="{x:.1f}" y1="{base:.1f}" x2="{x:.1f}" y2="{base + 4:.1f}"/>')
        tip = f"<title>{escape(versions[i])}</title>" if text != versions[i] else ""
        labels.append(f'<text x="{cx:.1f}" y="{base + 18:.1f}">{tip}{escape(text)}</text>')
    return (f'<g class="chart-axis" stroke="currentColor" stroke-opacity="0.45">'
            f'<line x1="{frame.left:.1f}" y1="{base:.1f}" x2="{frame.right:.1f}" y2="{base:.1f}"/>'
            f'{"".join(ticks)}</g>'
            f'<g class="chart-xlabel" fill="currentColor" text-anchor="middle">{"".join(labels)}</g>')


def _short(text: str, limit: int = _MAX_LABEL) -> str:
    """A label cut to ``limit`` characters with an ellipsis (the full text goes in its tooltip)."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _centre(x: float, text: str, width: int) -> float:
    """Where a label centred under ``x`` goes so that it stays inside the chart."""
    half = len(text) * _CHAR / 2
    return min(max(x, _PAD / 2 + half), width - _PAD / 2 - half)


def x_labels(frame: _Frame, versions: Sequence[str], width: int) -> list[tuple[int, float]]:
    """(index, label centre) of the first and last version and as many evenly spaced between as fit apart."""
    n = len(versions)
    if n <= 1:
        return [(i, _centre(frame.x(i), _short(versions[i]), width)) for i in range(n)]
    for k in range(min(n, 8), 1, -1):
        picked = sorted({round(j * (n - 1) / (k - 1)) for j in range(k)})
        spans = []
        for i in picked:
            text = _short(versions[i])
            cx = _centre(frame.x(i), text, width)
            spans.append((i, cx, len(text) * _CHAR / 2))
        if all(b[1] - b[2] - (a[1] + a[2]) >= 12 for a, b in itertools.pairwise(spans)):
            return [(i, cx) for i, cx, _ in spans]
    return [(0, _centre(frame.x(0), _short(versions[0]), width))]  # even first and last collide: first alone


@dataclass(frozen=True, slots=True)
class _Flag:
    """A mark's label: a flag at its guide line, to the right of it (or left, near the chart's right edge)."""

    index: int
    guide: float
    start: float
    end: float
    row: int
    text: str


def _mark_rows(frame: _Frame, marked: dict[int, tuple[str, ...]], width: int, max_rows: int) -> list[_Flag]:
    """Each mark's label in the topmost row where it overlaps no label and no guide crosses it."""
    flags: list[_Flag] = []
    for i, names in marked.items():
        text = _label(names, width)
        w, g = len(text) * _CHAR, frame.x(i)
        start = g + 3 if g + 3 + w <= width - _PAD / 2 else g - 3 - w
        end = start + w

        def clashes(row: int, start: float = start, end: float = end, g: float = g) -> int:
            overlaps = sum(f.row == row and end + 8 > f.start and f.end + 8 > start for f in flags)
            crossings = sum((f.row > row and f.start - 2 <= g <= f.end + 2)  # our guide would cross it
                            or (f.row < row and start - 2 <= f.guide <= end + 2) for f in flags)  # its guide, us
            return 100 * overlaps + crossings  # a guide through a label stays readable; two labels on top do not

        row = min(range(max_rows), key=clashes)  # the first without a clash, else the least bad
        flags.append(_Flag(i, g, start, end, row, text))
    return flags


def _label(names: tuple[str, ...], width: int) -> str:
    """A mark's alias names as one label no wider than the chart."""
    return _short(", ".join(names), int((width - 2 * _PAD) // _CHAR))


def _marks_behind(frame: _Frame, versions: Sequence[str], flags: list[_Flag]) -> str:
    """Dashed guides under the line at marked versions, up to their alias names in rows above the plot."""
    if not flags:
        return ""
    guides, labels = [], []
    rows = 1 + max(f.row for f in flags)
    for f in flags:
        y = frame.top - 10 - _ROW * (rows - 1 - f.row)
        guides.append(f'<line class="chart-mark-line" x1="{f.guide:.1f}" y1="{y - 4:.1f}" x2="{f.guide:.1f}" '
                      f'y2="{frame.bottom:.1f}"/>')
        labels.append(f'<text class="chart-mark-label" x="{f.start:.1f}" y="{y:.1f}">'
                      f'<title>{escape(versions[f.index])}</title>{escape(f.text)}</text>')
    return (f'<g stroke="{MARK}" stroke-opacity="0.7" stroke-dasharray="3 3">{"".join(guides)}</g>'
            f'<g fill="currentColor" font-weight="600">{"".join(labels)}</g>')


def _marks_front(frame: _Frame, versions: Sequence[str], values: list[float | None],
                 marked: dict[int, tuple[str, ...]]) -> str:
    """A ring over the line at each marked version that has a value, with a tooltip."""
    rings = []
    for i, names in marked.items():
        v = values[i]
        if v is None:
            continue
        tip = escape(f"{', '.join(names)}: {versions[i]} = {_value(v)}")
        rings.append(f'<circle class="chart-mark" cx="{frame.x(i):.1f}" cy="{frame.y(v):.1f}" r="5.5">'
                     f'<title>{tip}</title></circle>')
    return f'<g fill="none" stroke="{MARK}" stroke-width="2">{"".join(rings)}</g>' if rings else ""


def downsample(values: list[float | None], keep: Sequence[int], max_points: int, *,
               finite: int | None = None) -> list[list[tuple[int, float]]]:
    """The points to draw, as runs of (index, value) split where values are missing.

    Up to ``max_points`` values are all kept. Beyond that the indexes are cut into buckets;
    each keeps its minimum and maximum, a bucket with no value is a gap, and the first and
    last values and every index in ``keep`` are kept too: at most ``max_points`` points (or
    the marks and four more, if there are more marks than that). ``finite``, when the caller
    knows it, is how many values are not None.
    """
    runs: list[list[tuple[int, float]]] = [[]]
    n = len(values)
    if finite is None:
        finite = n - values.count(None)
    if finite <= max_points:
        for i, v in enumerate(values):
            if v is None:
                if runs[-1]:
                    runs.append([])
            else:
                runs[-1].append((i, v))
        return [r for r in runs if r]
    first = next(i for i, v in enumerate(values) if v is not None)
    last = n - 1 - next(i for i, v in enumerate(reversed(values)) if v is not None)
    pinned = sorted({i for i in keep if values[i] is not None} | {first, last})
    count = max(1, (max_points - len(pinned)) // 2)
    for b in range(count):
        start, stop = b * n // count, (b + 1) * n // count
        picked = _extremes(values, start, stop, finite == n)
        if not picked:
            if runs[-1]:
                runs.append([])
            continue
        picked.update(pinned[bisect.bisect_left(pinned, start):bisect.bisect_left(pinned, stop)])
        runs[-1].extend((i, v) for i in sorted(picked) if (v := values[i]) is not None)
    return [r for r in runs if r]


def _extremes(values: list[float | None], start: int, stop: int, dense: bool) -> set[int]:
    """The indexes of the first minimum and first maximum in values[start:stop]; empty if it has no value."""
    chunk = values[start:stop]
    if not dense and None in chunk:
        pairs = [(v, i) for i, v in enumerate(chunk, start) if v is not None]
        return {min(pairs)[1], max(pairs)[1]} if pairs else set()
    floats: list[float] = chunk  # type: ignore[assignment]  # no None: dense, or checked just before
    return {start + floats.index(min(floats)), start + floats.index(max(floats))}


def _line(frame: _Frame, versions: Sequence[str], runs: list[list[tuple[int, float]]]) -> str:
    """The line, one polyline per run between gaps; dots when points are few, and for every lone point."""
    kept = sum(len(r) for r in runs)
    dots_all = kept <= 1 or (frame.right - frame.left) / max(1, kept - 1) >= _DOT_SPACING
    polylines, dots = [], []
    for run in runs:
        pts = [(frame.x(i), frame.y(v)) for i, v in run]
        if len(run) > 1:
            coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            polylines.append(f'<polyline class="chart-line" points="{coords}"/>')
        if len(run) == 1 or dots_all:
            for (i, v), (x, y) in zip(run, pts, strict=True):
                # a tooltip only while dots are few: hundreds of lone points would make the chart heavy
                tip = f"<title>{escape(f'{versions[i]}: {_value(v)}')}</title>" if dots_all else ""
                dots.append(f'<circle class="chart-dot" cx="{x:.1f}" cy="{y:.1f}" r="2.5">{tip}</circle>')
    return (f'<g fill="none" stroke="{LINE}" stroke-width="1.75" stroke-linejoin="round" stroke-linecap="round">'
            f'{"".join(polylines)}</g><g fill="{LINE}">{"".join(dots)}</g>')
