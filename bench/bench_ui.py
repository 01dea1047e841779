"""Time to serve the web UI's pages against the JSON API's reads of the same model, in the same run.

Usage: python bench/bench_ui.py [--versions 10000] [--models 1000] [--repeat 200] [--stores memory,sqlite]

Builds one model (``big``) of 10,000 versions with 3 metrics each and ~20 alias moves, beside
1,000 small models of 2 versions, in each store; serves it through the ASGI app in-process
(httpx's ASGITransport, so no socket and no server process) and prints p50/p99 in ms and the
HTML size of: the model page of ``big``, the models page (page 1, and a filter), a version
page and a compare of 2 versions; and as the baseline, the JSON ``GET /api/v1/models/big`` and
``GET /api/v1/models/big/versions?limit=100``, with each p50 as a ratio to the JSON record's.
The goal: the model page well under 100 ms p99. On a shared machine the p99 column mostly
measures the other processes; run it on a quiet one.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from modelreg import ModelMetadata, ModelRegistry, acting_as, open_registry
from modelreg.server.app import create_app

BIG = "big"
_BASE = datetime(2026, 1, 5, tzinfo=UTC)


def _version(i: int) -> str:
    return f"{i // 1000}.{i // 10 % 100}.{i % 10}"


def _metadata(i: int, name: str = BIG) -> ModelMetadata:
    return ModelMetadata(
        training_date=_BASE + timedelta(hours=i),
        hyperparameters={"lr": 0.1 / (1 + i % 7), "optimizer": {"name": ("sgd", "adam")[i % 2], "momentum": 0.9},
                         "layers": 50},
        performance_metrics={"top1": 0.7 + (i % 997) / 10_000, "latency_ms": 12.0 - (i % 50) / 10,
                             "loss": 0.5 - (i % 13) / 100},
        artifact_path=f"s3://models/{name}/{_version(i)}",
        description=f"Nightly build {i} of {name}.",
        tags={"team": "vision", "stage": "eval"},
    )


def seed(registry: ModelRegistry, versions: int, models: int) -> None:
    """The big model with alias moves every ``versions // 20`` versions, then the small models."""
    step = max(1, versions // 20)
    with acting_as("bench"):
        for i in range(versions):
            registry.register_model(BIG, _version(i), _metadata(i))
            if i % step == step - 1:
                registry.set_alias(BIG, ("production", "staging")[i // step % 2], _version(i))
        for m in range(models):
            name = f"model-{m:04d}"
            for i in range(2):
                registry.register_model(name, _version(i), _metadata(i, name))


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def measure(registry: ModelRegistry, targets: list[tuple[str, str]], repeat: int) -> list[tuple[str, ...]]:
    """For each (label, path): p50 and p99 in ms over ``repeat`` requests, and the body size."""
    app = create_app(registry)
    rows: list[tuple[str, ...]] = []
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as http:
            for label, path in targets:
                accept = "application/json" if path.startswith("/api/") else "text/html"
                for _ in range(5):  # warm the caches (templates, search candidates) first
                    warm = await http.get(path, headers={"Accept": accept})
                    if warm.status_code != 200:
                        raise SystemExit(f"{path}: {warm.status_code} {warm.text[:300]}")
                samples = []
                for _ in range(repeat):
                    started = time.perf_counter()
                    response = await http.get(path, headers={"Accept": accept})
                    samples.append((time.perf_counter() - started) * 1000)
                rows.append((label, f"{statistics.median(samples):.2f}", f"{_percentile(samples, 0.99):.2f}",
                             f"{len(response.content) / 1024:.1f}"))
    finally:
        app.events.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--versions", type=int, default=10_000)
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--stores", default="memory,sqlite")
    opts = parser.parse_args()
    last = _version(opts.versions - 1)
    middle = _version(opts.versions // 2)
    targets = [
        ("model page (big, page 1)", f"/models/{BIG}"),
        ("model page (big, page 50)", f"/models/{BIG}?page={max(1, opts.versions // 200)}"),
        ("models page (page 1)", "/"),
        ("models page (filter)", "/?q=model-01"),
        ("version page", f"/models/{BIG}/versions/{middle}"),
        ("compare of 2", f"/models/{BIG}/compare?v={last}&v={middle}"),
        ("API model record (baseline)", f"/api/v1/models/{BIG}"),
        ("API 100 versions (baseline)", f"/api/v1/models/{BIG}/versions?limit=100"),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for store in opts.stores.split(","):
            url = "memory://" if store == "memory" else f"sqlite:///{Path(tmp) / 'bench.db'}"
            with open_registry(url) as registry:
                started = time.perf_counter()
                seed(registry, opts.versions, opts.models)
                print(f"\n{store}: {opts.versions} versions of {BIG!r} and {opts.models} models of 2, seeded in "
                      f"{time.perf_counter() - started:.1f} s; {opts.repeat} requests each (in-process ASGI)")
                rows = asyncio.run(measure(registry, targets, opts.repeat))
            width = max(len(row[0]) for row in rows)
            baseline = float(rows[-2][1])  # the JSON model record's p50
            print(f"{'request':<{width}}  {'p50 ms':>8}  {'p99 ms':>8}  {'size KB':>8}  {'p50 / API record':>16}")
            for label, p50, p99, size in rows:
                print(f"{label:<{width}}  {p50:>8}  {p99:>8}  {size:>8}  {float(p50) / baseline:>15.1f}x")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
