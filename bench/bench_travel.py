"""Time travel on one model with many events: ``get_aliases``/``resolve``/``get_versions`` with ``at=T``.

Usage: python bench/bench_travel.py [--events 10000] [--repeat 20]

Builds one model of --events events (half registrations, half moves of ``production``), on
MemoryRegistry (history_limit large enough to hold them all) and on a SQLite file, then times
each read at a T in the middle of its history against today's ``get_aliases`` (no ``at``) on
the same registry in the same run. Prints a Markdown table (paste it into the README).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelreg import MemoryRegistry, ModelMetadata, open_registry

NAME = "travel"


def _meta(i: int) -> ModelMetadata:
    return ModelMetadata(training_date=datetime(2026, 1, 5, tzinfo=UTC), hyperparameters={"lr": 0.01},
                         performance_metrics={"top1": 0.7 + i / 1e6}, artifact_path=f"s3://models/{NAME}/{i}")


def build(registry: Any, events: int) -> datetime:
    """Write ``events`` events to one model; return the time of the middle one."""
    for i in range(events // 2):
        version = f"{1 + i // 1000}.{i % 1000}.0"
        registry.register_model(NAME, version, _meta(i))
        registry.set_alias(NAME, "production", version)
    history = registry.history(NAME)
    assert len(history) == events // 2 * 2, len(history)
    return history[len(history) // 2].at


def per_call_s(call: Callable[[], object], repeat: int) -> float:
    """Median seconds per call over ``repeat`` timed runs (each of enough calls to last ~20 ms)."""
    start = time.perf_counter()
    call()
    once = max(time.perf_counter() - start, 1e-9)
    loops = max(1, int(0.02 / once))
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(loops):
            call()
        runs.append((time.perf_counter() - start) / loops)
    return statistics.median(runs)


def measure(registry: Any, middle: datetime, repeat: int) -> dict[str, float]:
    calls: dict[str, Callable[[], object]] = {
        "get_aliases() (today, baseline)": lambda: registry.get_aliases(NAME),
        "get_aliases(at=T)": lambda: registry.get_aliases(NAME, at=middle),
        "resolve('production', at=T)": lambda: registry.resolve(NAME, "production", at=middle),
        "resolve('^1', at=T)": lambda: registry.resolve(NAME, "^1", at=middle),
        "get_versions(at=T)": lambda: registry.get_versions(NAME, at=middle),
    }
    return {label: per_call_s(call, repeat) for label, call in calls.items()}


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e6:.2f} µs" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    results: dict[str, dict[str, float]] = {}
    with MemoryRegistry(history_limit=args.events) as memory:
        results["memory"] = measure(memory, build(memory, args.events), args.repeat)
    with tempfile.TemporaryDirectory() as tmp, open_registry(f"sqlite:///{Path(tmp) / 'travel.db'}") as sqlite:
        results["sqlite"] = measure(sqlite, build(sqlite, args.events), args.repeat)
    print(f"Time travel on one model of {args.events} events, T in the middle "
          f"(Python {platform.python_version()}, {platform.machine()}); ratio to today's get_aliases():\n")
    print("| call | memory | ratio | SQLite | ratio |")
    print("|---|---:|---:|---:|---:|")
    base = {backend: found["get_aliases() (today, baseline)"] for backend, found in results.items()}
    for label in results["memory"]:
        cells = []
        for backend in ("memory", "sqlite"):
            seconds = results[backend][label]
            cells += [_fmt(seconds), f"{seconds / base[backend]:,.0f}x"]
        print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
