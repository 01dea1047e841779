"""The model page's metric chart: well-formed, accessible SVG with points, ticks, labels and marks where they belong."""

from __future__ import annotations

import itertools
import math
import random
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelreg.server.ui.chart import ChartSeries, metric_chart, nice_ticks, tick_format

SVG = "{http://www.w3.org/2000/svg}"
CLASSES = {"chart", "chart-title", "chart-subtitle", "chart-plot", "chart-grid", "chart-axis", "chart-ylabel",
           "chart-xlabel", "chart-line", "chart-dot", "chart-mark", "chart-mark-line", "chart-mark-label",
           "chart-empty"}
GEOMETRY = ("x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "width", "height")


def versions(n: int) -> list[str]:
    return [f"{i // 100}.{i // 10 % 10}.{i % 10}" for i in range(n)]


def render(values: list[float | None], marks: dict[int, list[str]] | None = None, **options: int) -> ET.Element:
    svg = metric_chart(ChartSeries("top1", values), versions(len(values)), marks or {}, **options)
    return ET.fromstring(svg)


def of_class(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if e.get("class") == name]


def group(root: ET.Element, name: str) -> ET.Element:
    (found,) = of_class(root, name)
    return found


def text_of(element: ET.Element) -> str:
    """An element's own text, without the tooltip <title> it may hold."""
    return "".join(t for t in [element.text or ""] + [c.tail or "" for c in element])


def line_points(root: ET.Element) -> list[list[tuple[float, float]]]:
    return [[(float(x), float(y)) for x, y in (p.split(",") for p in line.get("points", "").split())]
            for line in of_class(root, "chart-line")]


def dots(root: ET.Element) -> list[tuple[float, float]]:
    return [(float(d.get("cx", "nan")), float(d.get("cy", "nan"))) for d in of_class(root, "chart-dot")]


class Scale:
    """The chart's own mapping read back from the SVG: the plot frame and the lowest and highest y tick labels."""

    def __init__(self, root: ET.Element, n: int) -> None:
        plot = group(root, "chart-plot")
        self.left, self.top = float(plot.get("x", "nan")), float(plot.get("y", "nan"))
        self.width, self.height = float(plot.get("width", "nan")), float(plot.get("height", "nan"))
        labels = [float(text_of(t)) for t in group(root, "chart-ylabel")]
        self.lo, self.hi, self.n = min(labels), max(labels), n

    def x(self, index: int) -> float:
        return self.left + self.width * index / (self.n - 1)

    def y(self, value: float) -> float:
        return self.top + self.height - self.height * (value - self.lo) / (self.hi - self.lo)


def test_chart_is_one_svg_labelled_by_its_title_and_described_by_its_desc() -> None:
    root = render([0.5, 0.6, 0.7], {2: ["production"]})
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("viewBox") == "0 0 720 220" and root.get("width") == "100%"
    assert root.get("preserveAspectRatio") == "xMidYMid meet"
    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")
    assert title is not None and desc is not None
    assert root.get("aria-labelledby") == title.get("id") and root.get("aria-describedby") == desc.get("id")
    assert title.text == "top1 across 3 versions"
    assert desc.text is not None
    for fact in ("top1", "3 versions", "min 0.5 at 0.0.0", "max 0.7 at 0.0.2", "production at 0.0.2 (0.7)"):
        assert fact in desc.text
    assert text_of(group(root, "chart-title")) == "top1"


def test_line_passes_through_every_value_at_its_index() -> None:
    values = [0.0, 0.1, 0.4, 0.9, 0.3, 1.0]
    root = render(values)
    scale = Scale(root, len(values))
    (points,) = line_points(root)
    assert len(points) == len(values)
    for i, (x, y) in enumerate(points):
        assert x == pytest.approx(scale.x(i), abs=0.06)
        assert y == pytest.approx(scale.y(values[i]), abs=0.06)


def test_marked_version_gets_a_ring_a_guide_and_its_alias_names_at_its_index_and_value() -> None:
    values = [i / 10 for i in range(11)]
    root = render(values, {7: ["production", "canary"]})
    scale = Scale(root, len(values))
    (ring,) = of_class(root, "chart-mark")
    assert float(ring.get("cx", "nan")) == pytest.approx(scale.x(7), abs=0.06)
    assert float(ring.get("cy", "nan")) == pytest.approx(scale.y(0.7), abs=0.06)
    (guide,) = of_class(root, "chart-mark-line")
    assert float(guide.get("x1", "nan")) == float(guide.get("x2", "nan")) == float(ring.get("cx", "nan"))
    (label,) = of_class(root, "chart-mark-label")
    assert text_of(label) == "production, canary"
    assert float(label.get("y", "nan")) < scale.top  # above the plot, off the data


def test_mark_on_a_version_without_the_metric_has_a_guide_and_label_but_no_ring() -> None:
    root = render([0.1, None, 0.3], {1: ["staging"]})
    assert of_class(root, "chart-mark") == []
    assert len(of_class(root, "chart-mark-line")) == 1
    assert [text_of(t) for t in of_class(root, "chart-mark-label")] == ["staging"]


def test_labels_of_neighbouring_marks_do_not_overlap() -> None:
    root = render([float(i) for i in range(1000)], {500: ["production"], 501: ["staging"], 502: ["canary"]})
    labels = of_class(root, "chart-mark-label")
    rows = {(float(t.get("y", "nan"))) for t in labels}
    assert len(rows) == 3  # one row each: they would collide side by side


def test_missing_values_break_the_line_and_a_lone_value_is_a_dot() -> None:
    root = render([0.1, 0.2, None, 0.4, None, 0.6, 0.7])
    scale = Scale(root, 7)
    lines = line_points(root)
    assert [len(points) for points in lines] == [2, 2]
    assert lines[0][-1][0] == pytest.approx(scale.x(1), abs=0.06)
    assert lines[1][0][0] == pytest.approx(scale.x(5), abs=0.06)
    assert (pytest.approx(scale.x(3), abs=0.06), pytest.approx(scale.y(0.4), abs=0.06)) in dots(root)


def test_non_finite_values_draw_exactly_as_missing_ones() -> None:
    with_gaps = metric_chart(ChartSeries("top1", [0.1, None, 0.3, None]), versions(4), {})
    non_finite = metric_chart(ChartSeries("top1", [0.1, math.nan, 0.3, math.inf]), versions(4), {})
    assert non_finite == with_gaps
    assert "nan" not in non_finite.lower() and "inf" not in non_finite.lower()


@pytest.mark.parametrize(("lo", "hi"), [(0.612, 0.791), (0.0, 1.0), (-3.5, 12.25), (1200.0, 98000.0),
                                        (3e-7, 9e-5), (-1e-3, -2e-4), (1e9, 1e9 + 7)])
def test_y_ticks_cover_the_values_at_one_two_five_steps(lo: float, hi: float) -> None:
    ticks = nice_ticks(lo, hi, 5)
    assert ticks[0] <= lo and ticks[-1] >= hi
    assert 3 <= len(ticks) <= 11
    step = ticks[1] - ticks[0]
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert min(abs(mantissa - m) for m in (1, 2, 5, 10)) < 1e-6
    assert all(b - a == pytest.approx(step, rel=1e-6) for a, b in itertools.pairwise(ticks))


@pytest.mark.parametrize(("ticks", "labels"), [
    ([0.7, 0.75, 0.8], ["0.70", "0.75", "0.80"]),
    ([1000.0, 1200.0, 1400.0], ["1.0k", "1.2k", "1.4k"]),
    ([0.0, 1e-05, 2e-05, 3e-05], ["0", "1e-05", "2e-05", "3e-05"]),
    ([0.0, 500000.0, 1000000.0, 1500000.0], ["0", "0.5M", "1.0M", "1.5M"]),
    ([-10.0, 0.0, 10.0, 20.0], ["-10", "0", "10", "20"]),
    ([0.0, 5e15, 1e16], ["0", "5e+15", "1e+16"]),
])
def test_tick_labels_are_compact_and_consistent_along_an_axis(ticks: list[float], labels: list[str]) -> None:
    fmt = tick_format(ticks)
    assert [fmt(t) for t in ticks] == labels


def test_x_labels_are_the_first_the_last_and_a_few_between_that_do_not_overlap() -> None:
    names = [f"{i}.0.0-rc.{i % 7}" for i in range(1000)]
    root = ET.fromstring(metric_chart(ChartSeries("top1", [float(i % 13) for i in range(1000)]), names, {}))
    labels = list(group(root, "chart-xlabel"))
    texts = [text_of(t) for t in labels]
    assert texts[0] == names[0] and texts[-1] == names[-1]
    assert 3 <= len(texts) <= 8
    extents = [(float(t.get("x", "nan")) - len(s) * 3.6, float(t.get("x", "nan")) + len(s) * 3.6)
               for t, s in zip(labels, texts, strict=True)]
    assert all(a[1] < b[0] for a, b in itertools.pairwise(extents))
    assert all(lo >= 0 and hi <= 720 for lo, hi in extents)


def test_hostile_metric_alias_and_version_names_are_escaped() -> None:
    hostile = '<script>alert("x")</script>&amp;'
    svg = metric_chart(ChartSeries(hostile, [0.1, 0.2]), ["1.0.0", "<script>2</script>"], {1: [hostile]})
    assert "<script" not in svg
    root = ET.fromstring(svg)
    assert text_of(group(root, "chart-title")) == hostile
    assert [text_of(t) for t in of_class(root, "chart-mark-label")] == [hostile]
    assert "<script>2</script>" in [text_of(t) for t in group(root, "chart-xlabel")]
    title = root.find(f"{SVG}title")
    assert title is not None and title.text is not None and hostile in title.text
    assert re.fullmatch(r"[A-Za-z0-9_-]+", root.get("aria-labelledby", ""))


def test_ten_thousand_versions_are_downsampled_keeping_spikes_and_marks() -> None:
    rng = random.Random(5)
    values: list[float | None] = [0.5 + rng.uniform(-0.01, 0.01) for _ in range(10_000)]
    values[1234], values[5678] = 0.9, 0.1  # one-version spike and dip
    svg = metric_chart(ChartSeries("top1", values), versions(10_000), {4321: ["production"], 9998: ["staging"]})
    assert len(svg.encode()) < 40_000
    root = ET.fromstring(svg)
    scale = Scale(root, 10_000)
    points = {p for line in line_points(root) for p in line} | set(dots(root))
    assert len(points) <= 400
    ys = [y for _, y in points]
    assert min(ys) == pytest.approx(scale.y(0.9), abs=0.06) and max(ys) == pytest.approx(scale.y(0.1), abs=0.06)
    xs = {round(x, 1) for x, _ in points}
    for index in (0, 1234, 4321, 5678, 9998, 9999):
        assert round(scale.x(index), 1) in xs, index
    assert len(of_class(root, "chart-mark")) == 2


def test_hundreds_of_lone_points_between_gaps_stay_small() -> None:
    values: list[float | None] = [None if i % 2 else float(i % 17) for i in range(800)]  # 400 values, 400 gaps
    svg = metric_chart(ChartSeries("top1", values), versions(800), {})
    assert len(svg.encode()) < 40_000
    assert len(dots(ET.fromstring(svg))) == 400


def test_downsampled_gaps_survive_where_a_whole_stretch_lacks_the_metric() -> None:
    values: list[float | None] = [float(i % 10) for i in range(5000)]
    values[2000:3000] = [None] * 1000
    root = render(values, max_points=100)
    scale = Scale(root, 5000)
    lines = line_points(root)
    assert len(lines) == 2
    assert lines[0][-1][0] < scale.x(2000) and lines[1][0][0] >= scale.x(3000) - 0.06


def test_constant_series_is_a_flat_line_between_ticks() -> None:
    root = render([0.75] * 5)
    scale = Scale(root, 5)
    (points,) = line_points(root)
    assert [y for _, y in points] == pytest.approx([scale.y(0.75)] * 5, abs=0.06)
    assert scale.lo < 0.75 < scale.hi


def test_single_version_is_one_dot_in_the_middle() -> None:
    root = ET.fromstring(metric_chart(ChartSeries("top1", [0.42]), ["1.0.0"], {0: ["production"]}))
    assert line_points(root) == []
    ((x, _),) = dots(root)
    plot = group(root, "chart-plot")
    assert x == pytest.approx(float(plot.get("x", "nan")) + float(plot.get("width", "nan")) / 2, abs=0.06)
    assert [text_of(t) for t in group(root, "chart-xlabel")] == ["1.0.0"]
    assert len(of_class(root, "chart-mark")) == 1


@pytest.mark.parametrize("values", [[None, None, None], [math.nan, math.inf], []])
def test_series_without_values_renders_a_no_values_chart(values: list[float | None]) -> None:
    svg = metric_chart(ChartSeries("top1", values), versions(len(values)), {})
    root = ET.fromstring(svg)
    assert root.get("role") == "img"
    assert text_of(group(root, "chart-empty")) == "No values of top1 in these versions"
    assert line_points(root) == [] and dots(root) == []
    desc = root.find(f"{SVG}desc")
    assert desc is not None and desc.text is not None and "no version has a value" in desc.text


def test_negative_values_get_negative_ticks_and_labels() -> None:
    root = render([-12.5, -3.0, 4.0, -20.0])
    labels = [text_of(t) for t in group(root, "chart-ylabel")]
    assert labels[0].startswith("-") and float(labels[0]) <= -20 and float(labels[-1]) >= 4
    scale = Scale(root, 4)
    (points,) = line_points(root)
    assert points[3][1] == pytest.approx(scale.y(-20.0), abs=0.06)


@pytest.mark.parametrize("values", [
    [1e300, 3e300, 2e300], [1e-300, 4e-300], [-1.7e308, 1.7e308, 0.0], [5e-324, 1e-323], [5e-324] * 3,
    [1.001e-308, 1.224e-308],
    [1e15, 1e15 + 1], [1e6 + 1e-4, 1e6 + 3e-4], [-1e-12, 1e-12],
])
def test_huge_tiny_and_extreme_magnitudes_render_with_finite_coordinates_inside_the_chart(
        values: list[float | None]) -> None:
    root = render(values)
    assert_inside(root, 720, 220)
    labels = [text_of(t) for t in group(root, "chart-ylabel")]
    assert len(labels) >= 2 and all(labels)


def test_same_input_renders_the_same_bytes_whatever_the_order_of_marks() -> None:
    values = [random.Random(3).random() for _ in range(3000)]
    one = metric_chart(ChartSeries("top1", values), versions(3000), {10: ["a"], 2000: ["b"]})
    two = metric_chart(ChartSeries("top1", list(values)), versions(3000), {2000: ["b"], 10: ["a"]})
    assert one == two


def test_no_inline_styles_and_only_documented_classes() -> None:
    root = render([0.1, None, 0.3, 0.2], {2: ["production"]})
    assert root.find(f".//{SVG}style") is None
    assert all("style" not in e.attrib for e in root.iter())
    used = {e.get("class") for e in root.iter()} - {None}
    assert used <= CLASSES
    empty = ET.fromstring(metric_chart(ChartSeries("m", [None]), ["1.0.0"], {}))
    assert {e.get("class") for e in empty.iter()} - {None} <= CLASSES


def test_text_is_at_least_11px() -> None:
    root = render([0.1, 0.2, 0.3], {1: ["production"]})
    base = float(root.get("font-size", "0"))
    assert base >= 11
    assert all(float(e.get("font-size", base)) >= 11 for e in root.iter(f"{SVG}text"))


def test_values_and_versions_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="2 values for 3 versions"):
        metric_chart(ChartSeries("top1", [0.1, 0.2]), versions(3), {})


def test_mark_outside_the_versions_is_refused() -> None:
    with pytest.raises(ValueError, match="index 3 is outside the 3 versions"):
        metric_chart(ChartSeries("top1", [0.1, 0.2, 0.3]), versions(3), {3: ["production"]})


def assert_inside(root: ET.Element, width: float, height: float) -> None:
    """Every coordinate in the chart is a finite number inside its viewBox."""
    for element in list(root.iter())[1:]:  # the <svg> itself is width="100%"
        for name in GEOMETRY:
            if name in element.attrib:
                value = float(element.attrib[name])
                assert math.isfinite(value), (element.tag, name)
                assert -0.05 <= value <= (height if name.startswith(("y", "cy", "h")) else width) + 0.05
        for pair in element.get("points", "").split():
            x, y = (float(part) for part in pair.split(","))
            assert 0 <= x <= width and 0 <= y <= height


values_strategy = st.lists(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)), max_size=700)


@settings(max_examples=150, deadline=None)
@given(values=values_strategy, data=st.data(), max_points=st.integers(8, 60))
def test_any_series_renders_well_formed_bounded_and_inside_the_chart(values: list[float | None], data: st.DataObject,
                                                                     max_points: int) -> None:
    marks = data.draw(st.dictionaries(st.integers(0, max(0, len(values) - 1)),
                                      st.lists(st.sampled_from(["production", "staging", "<b>&"]), max_size=2),
                                      max_size=3 if values else 0))
    svg = metric_chart(ChartSeries("m", values), versions(len(values)), marks, max_points=max_points)
    root = ET.fromstring(svg)
    assert_inside(root, 720, 220)
    points = {p for line in line_points(root) for p in line} | set(dots(root))
    assert len(points) <= max(max_points, len(marks) + 4)
    assert svg == metric_chart(ChartSeries("m", values), versions(len(values)), marks, max_points=max_points)


def test_mark_given_one_string_instead_of_a_list_of_names_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="sequence of alias names"):
        metric_chart(ChartSeries("top1", [0.1]), versions(1), {0: "production"})


def test_labels_of_neighbouring_marks_at_the_right_edge_never_overlap_in_one_row() -> None:
    # Seen on the model page at 560 units: "staging" and "canary" were drawn on top of each other.
    svg = metric_chart(ChartSeries("loss", [1.0 - 0.02 * i for i in range(12)]), [f"1.{i}.0" for i in range(12)],
                       {9: ["production"], 10: ["staging"], 11: ["canary"]}, width=560, height=220)
    labels = [(float(x), float(y), len(text)) for x, y, text in
              re.findall(r'class="chart-mark-label" x="([\d.]+)" y="([\d.]+)"><title>[^<]*</title>([^<]*)<', svg)]
    assert len(labels) == 3
    for a, b in itertools.combinations(labels, 2):
        if a[1] == b[1]:  # same row: their estimated extents (0.6 em a character) must not meet
            assert a[0] + a[2] * 7.2 <= b[0] or b[0] + b[2] * 7.2 <= a[0], (a, b)
