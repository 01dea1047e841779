"""Throughput of ``modelreg import mlflow``: versions imported per second from a local MLflow server.

Usage: python bench/bench_import.py [--versions 1000] [--models 10] [--rounds 3]

Starts the pinned MLflow server (tests/support/mlflow_server.py: its cached virtual
environment, SQLite backend, loopback port), seeds --versions versions over --models
registered models through MLflow's own client (each with a run of 3 metrics and 3 params,
tags and a description), then prints a Markdown table of, as medians of --rounds rounds:

  1. reading alone: what the importer asks MLflow (model and version listings, each run,
     each download URI) with the same concurrency, writing nothing: the baseline;
  2. a full import into memory:// and into a new SQLite file;
  3. a re-run into that SQLite file (nothing new: listings only).
Ratios are against the baseline in this run; the import cannot be faster than reading MLflow.
Exits 3 without figures if MLflow cannot be set up, unless $MODELREG_REQUIRE_MLFLOW=1 (then 1).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from modelreg import MemoryRegistry, import_mlflow, open_registry
from modelreg.importing._source import MlflowSource
from support import mlflow_server  # type: ignore[import-not-found,unused-ignore]

SKIPPED = 3


def seed(url: str, versions: int, models: int) -> None:
    """``versions`` versions spread over ``models`` models, each with a finished run, through MLflow's client."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    client = MlflowClient(tracking_uri=url, registry_uri=url)
    experiment = client.create_experiment("bench")
    names = [f"model-{i:03d}" for i in range(models)]
    for name in names:
        client.create_registered_model(name, tags={"team": "bench"}, description=f"{name} for the benchmark")

    def one(i: int) -> None:
        run_id = client.create_run(experiment).info.run_id
        now = int(time.time() * 1000)
        client.log_batch(run_id, metrics=[Metric(k, 0.5 + i / 1e6, now, 0) for k in ("auc", "f1", "loss")],
                         params=[Param(k, str(v)) for k, v in (("lr", 0.01), ("depth", 8), ("opt", "adam"))])
        client.set_terminated(run_id)
        client.create_model_version(names[i % models], source=f"runs:/{run_id}/model", run_id=run_id,
                                    tags={"owner": "bench"}, description=f"version {i}", await_creation_for=0)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(versions)))
    for name in names[:2]:
        client.set_registered_model_alias(name, "champion", "1")


def read_only(url: str) -> None:
    """Every MLflow read the importer makes, with its concurrency, and nothing written (the baseline)."""
    source = MlflowSource(url)
    with ThreadPoolExecutor(8) as pool:
        for model in source.models():
            versions = source.versions(model.name)

            def fetch(v: Any, name: str = model.name) -> None:
                source.run(v.run_id)
                source.download_uri(name, v.number)

            list(pool.map(fetch, versions))


def timed(func: Callable[[], object]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=1000)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            server = mlflow_server.MlflowServer(Path(tmp) / "mlflow")
            server.start()
        except mlflow_server.MlflowUnavailable as exc:
            print(f"MLflow unavailable: {exc}", file=sys.stderr)
            return 1 if os.environ.get(mlflow_server.REQUIRE_ENV) == "1" else SKIPPED
        try:
            began = time.perf_counter()
            with contextlib.redirect_stdout(sys.stderr):  # MLflow prints a "View run" line per finished run
                seed(server.url, args.versions, args.models)
            print(f"seeded {args.versions} versions over {args.models} models in {time.perf_counter() - began:.1f} s",
                  file=sys.stderr)
            rows = measure(server.url, Path(tmp), args.rounds)
        finally:
            server.stop()
    print(f"modelreg import mlflow: {args.versions} versions, {args.models} models, MLflow "
          f"{mlflow_server.MLFLOW_VERSION} on loopback over SQLite; medians of {args.rounds} rounds "
          f"(Python {platform.python_version()}, {os.cpu_count()} CPUs)")
    print("| run | seconds | versions/s | ratio to reading alone |")
    print("|---|---:|---:|---:|")
    base = rows[0][1]
    for label, seconds in rows:
        print(f"| {label} | {seconds:.2f} | {args.versions / seconds:,.0f} | {seconds / base:.2f} |")
    return 0


def measure(url: str, tmp: Path, rounds: int) -> list[tuple[str, float]]:
    """Median seconds of each run, the rounds alternating between them."""
    times: dict[str, list[float]] = {"reading MLflow alone (baseline)": [], "import into memory://": [],
                                     "import into SQLite": [], "re-run into SQLite (nothing new)": []}
    for i in range(rounds):
        times["reading MLflow alone (baseline)"].append(timed(lambda: read_only(url)))
        times["import into memory://"].append(timed(lambda: import_mlflow(MemoryRegistry(), url)))
        with open_registry(f"sqlite:///{tmp / f'round{i}.db'}") as registry:
            times["import into SQLite"].append(timed(lambda: import_mlflow(registry, url)))
            times["re-run into SQLite (nothing new)"].append(timed(lambda: import_mlflow(registry, url)))
    return [(label, statistics.median(values)) for label, values in times.items()]


if __name__ == "__main__":
    sys.exit(main())
