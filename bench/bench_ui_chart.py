"""Rendering the model page's metric chart against formatting the same numbers as text, in the same run.

Usage: python bench/bench_ui_chart.py [--versions 10000] [--repeat 200]

Builds one metric over ``--versions`` versions (a seeded random walk with a spike, a dip and
a stretch of versions without the metric, three aliases) and prints the SVG's size and the
p50/p99 time of ``metric_chart`` next to the baseline ``",".join(f"{v:.6g}" for v in values)``
(the least a page could do with these values), and the ratio (chart / baseline). Goal at
10,000 versions: under 40 KB and under 5 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

from modelreg.server.ui.chart import ChartSeries, metric_chart


def series(versions: int, seed: int = 11) -> tuple[ChartSeries, list[str], dict[int, list[str]]]:
    """The benchmark's metric, version strings and aliases, from one seeded generator."""
    rng = random.Random(seed)
    value, values = 0.70, []
    for _ in range(versions):
        value += rng.gauss(0.0, 0.002)
        values.append(value)
    out: list[float | None] = list(values)
    out[versions // 3] = 0.95
    out[2 * versions // 3] = 0.40
    out[versions // 10: versions // 10 + versions // 50] = [None] * (versions // 50)
    names = [f"{i // 1000}.{i // 10 % 100}.{i % 10}" for i in range(versions)]
    marks = {versions - 5: ["production"], versions - 2: ["staging"], versions // 2: ["legacy"]}
    return ChartSeries("top1", out), names, marks


def timings(call: Callable[[], object], repeat: int) -> list[float]:
    """Milliseconds per call, one figure per call."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        call()
        times.append((time.perf_counter_ns() - start) / 1e6)
    return times


def p50_p99(times: list[float]) -> tuple[float, float]:
    """The median and the 99th percentile of a list of timings."""
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return statistics.median(times), cuts[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    chart, names, marks = series(args.versions)
    present = [v for v in chart.values if v is not None]
    svg = metric_chart(chart, names, marks)
    text = ",".join(f"{v:.6g}" for v in present)
    chart_times: list[float] = []
    base_times: list[float] = []
    for _ in range(5):  # interleaved rounds, so a busy moment on the machine weighs on both sides alike
        chart_times += timings(lambda: metric_chart(chart, names, marks), args.repeat // 5)
        base_times += timings(lambda: ",".join(f"{v:.6g}" for v in present), args.repeat // 5)
    c50, c99 = p50_p99(chart_times)
    b50, b99 = p50_p99(base_times)
    print(f"{args.versions:,} versions, {len(present):,} with the metric, {len(marks)} aliases")
    print(f"  SVG {len(svg.encode()):,} bytes (baseline text {len(text.encode()):,} bytes)")
    print(f"  metric_chart   p50 {c50:6.2f} ms  p99 {c99:6.2f} ms")
    print(f"  baseline join  p50 {b50:6.2f} ms  p99 {b99:6.2f} ms")
    print(f"  ratio (chart / baseline) p50 {c50 / b50:.2f}x  p99 {c99 / b99:.2f}x")


if __name__ == "__main__":
    main()
