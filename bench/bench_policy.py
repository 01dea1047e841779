"""What an alias policy costs a write: ``set_alias`` under a policy of 3 requirements versus none.

Usage: python bench/bench_policy.py [--rounds 15] [--batch 200] [--sqlite-batch 20]

Two models with the same versions, one whose ``production`` has a policy of three ``require``
items and ``approvals=0`` (so ``set_alias`` moves it directly; every target passes), one without
a policy. Each round times a batch of ``set_alias`` calls on each, alternating which goes first,
moving ``production`` between two versions so every call writes one event; medians over the rounds,
on MemoryRegistry and on a SQLite file, in the same run. Then the cost of one governed promotion
round (request, approve, approve under ``approvals=2``) against one plain ``set_alias``.
Prints a Markdown table (paste it into the README).
"""

from __future__ import annotations

import argparse
import itertools
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelreg import AliasPolicy, MemoryRegistry, ModelMetadata, acting_as, open_registry

REQUIRE = ("metrics.top1 >= 0.75", "metrics.latency_ms <= 15", "not version satisfies '<1.0.0'")
VERSIONS = ("1.5.0", "1.6.0")  # both pass every requirement


def _meta(version: str) -> ModelMetadata:
    return ModelMetadata(training_date=datetime(2026, 1, 5, tzinfo=UTC), hyperparameters={"lr": 0.01},
                         performance_metrics={"top1": 0.78, "latency_ms": 11.0}, artifact_path=f"s3://m/{version}")


def build(registry: Any) -> None:
    """``free`` (no policy), ``gated`` (3 requirements, no approvals), ``approved`` (the same, 2 approvals)."""
    for name in ("free", "gated", "approved"):
        for version in VERSIONS:
            registry.register_model(name, version, _meta(version))
        registry.set_alias(name, "production", VERSIONS[0])
    registry.set_alias_policy("gated", "production", AliasPolicy(require=REQUIRE, approvals=0))
    registry.set_alias_policy("approved", "production", AliasPolicy(require=REQUIRE, approvals=2))


def mover(registry: Any, name: str) -> Callable[[], None]:
    """One ``set_alias`` per call, to the version production is not on (so each call writes)."""
    targets = itertools.cycle(VERSIONS[1:] + VERSIONS[:1])
    return lambda: registry.set_alias(name, "production", next(targets))


def promoter(registry: Any) -> Callable[[], None]:
    """One governed round per call: ci requests, alice and bob approve, production moves."""
    targets = itertools.cycle(VERSIONS[1:] + VERSIONS[:1])

    def round_trip() -> None:
        with acting_as("ci"):
            made = registry.request_promotion("approved", "production", next(targets))
        for approver in ("alice", "bob"):
            with acting_as(approver):
                done = registry.approve_promotion(made.id)
        assert done.state == "approved"

    return round_trip


def timed(call: Callable[[], None], batch: int) -> float:
    start = time.perf_counter()
    for _ in range(batch):
        call()
    return (time.perf_counter() - start) / batch


def measure(registry: Any, rounds: int, batch: int) -> dict[str, float]:
    """Median seconds per call of each case; the cases alternate within every round, first one rotating."""
    build(registry)
    cases = {"set_alias, no policy (baseline)": mover(registry, "free"),
             "set_alias, policy of 3 requirements": mover(registry, "gated"),
             "request + approve + approve (approvals=2)": promoter(registry)}
    for call in cases.values():  # warm up: first writes, caches
        call()
    runs: dict[str, list[float]] = {label: [] for label in cases}
    labels = list(cases)
    for i in range(rounds):
        for label in labels[i % len(labels):] + labels[: i % len(labels)]:
            runs[label].append(timed(cases[label], batch))
    return {label: statistics.median(found) for label, found in runs.items()}


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--batch", type=int, default=200, help="calls per case per round on memory")
    parser.add_argument("--sqlite-batch", type=int, default=20, help="calls per case per round on SQLite")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, float]] = {}
    with MemoryRegistry(history_limit=1_000_000) as memory:
        results["memory"] = measure(memory, args.rounds, args.batch)
    with tempfile.TemporaryDirectory() as tmp, open_registry(f"sqlite:///{Path(tmp) / 'policy.db'}") as sqlite:
        results["sqlite"] = measure(sqlite, args.rounds, args.sqlite_batch)
    print(f"Alias policies: medians of {args.rounds} alternating rounds (Python {platform.python_version()}, "
          f"{platform.machine()}); ratio to set_alias without a policy on the same backend:\n")
    print("| call | memory | ratio | SQLite | ratio |")
    print("|---|---:|---:|---:|---:|")
    base = {backend: found["set_alias, no policy (baseline)"] for backend, found in results.items()}
    for label in results["memory"]:
        cells = []
        for backend in ("memory", "sqlite"):
            seconds = results[backend][label]
            cells += [_fmt(seconds), f"{seconds / base[backend]:.2f}x"]
        print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
