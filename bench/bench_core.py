"""Read latency of the in-process registry against a bare dict lookup measured in the same run.

Usage: python bench/bench_core.py [--models 100] [--versions 100] [--repeat 7]

Prints ns per query for 1,000 and 100,000 queries of has_version, get_metadata
(alone and reading one hyperparameter), get_versions and resolve("^1") on a
MemoryRegistry, and the same for a plain dict holding the same data, with the ratio;
then ns per version or range parsed (cache misses and hits) and per range test;
then ns per item read from the containers metadata holds (FrozenDict/FrozenList) next
to dict, list and what they replaced (mappingproxy, tuple). Figures are the best of --repeat runs
(the least disturbed by other load on a shared machine); the ratio is what to
compare between machines, not the absolute time.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from modelreg import MemoryRegistry, ModelMetadata

Pairs = list[tuple[str, str]]


def build(models: int, versions: int) -> tuple[MemoryRegistry, dict[tuple[str, str], ModelMetadata], Pairs]:
    registry = MemoryRegistry()
    flat: dict[tuple[str, str], ModelMetadata] = {}
    pairs: Pairs = []
    meta = ModelMetadata(
        training_date=datetime(2026, 1, 5, tzinfo=UTC),
        hyperparameters={"lr": 0.01, "layers": 50},
        performance_metrics={"top1": 0.761},
        artifact_path="s3://models/x",
    )
    for m in range(models):
        name = f"model-{m:03d}"
        for i in range(versions):
            version = f"{i // 50}.{i % 50}.{m % 3}"
            stored = registry.register_model(name, version, meta)
            flat[(name, version)] = stored
            pairs.append((name, version))
    return registry, flat, pairs


def per_query_ns(loop: Callable[[Pairs], None], queries: Pairs, repeat: int) -> tuple[float, float]:
    """Best and median ns per query over ``repeat`` runs of ``loop(queries)``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        loop(queries)
        times.append((time.perf_counter_ns() - start) / len(queries))
    return min(times), statistics.median(times)


def loops(registry: MemoryRegistry, flat: dict[tuple[str, str], ModelMetadata]) -> dict[str, Callable[[Pairs], None]]:
    has_version, get_metadata = registry.has_version, registry.get_metadata
    get_versions, resolve = registry.get_versions, registry.resolve
    by_name: dict[str, list[str]] = {}
    for name, version in flat:
        by_name.setdefault(name, []).append(version)

    def bare_dict(q: Pairs) -> None:
        for key in q:
            flat.get(key)

    def bare_dict_call(q: Pairs) -> None:
        get = flat.get
        for name, version in q:
            get((name, version))

    def bare_list_copy(q: Pairs) -> None:
        for name, _ in q:
            list(by_name[name])

    def has(q: Pairs) -> None:
        for name, version in q:
            has_version(name, version)

    def has_v(q: Pairs) -> None:
        for name, version in q:
            has_version(name, "v" + version)

    def meta(q: Pairs) -> None:
        for name, version in q:
            get_metadata(name, version)

    def meta_value(q: Pairs) -> None:
        for name, version in q:
            get_metadata(name, version).hyperparameters["lr"]

    def listing(q: Pairs) -> None:
        for name, _ in q:
            get_versions(name)

    def caret(q: Pairs) -> None:
        for name, _ in q:
            resolve(name, "^1")

    return {
        "dict.get((name, version))  [baseline]": bare_dict,
        "dict.get via call + tuple  [baseline 2]": bare_dict_call,
        "list(dict[name])  [baseline for get_versions]": bare_list_copy,
        "has_version (canonical)": has,
        "has_version ('v' prefix, slow path)": has_v,
        "get_metadata (canonical)": meta,
        "get_metadata + .hyperparameters['lr']": meta_value,
        "get_versions": listing,
        'resolve("^1")': caret,
    }


_READS = """
def reads(container, key, n=20_000):
    start = time.perf_counter_ns()
    for _ in range(n):
        container[key]
        container[key]
        container[key]
        container[key]
        container[key]
    return (time.perf_counter_ns() - start) / n / 5
"""


def value_access(repeat: int) -> None:
    """ns per item read from the containers metadata may hold: what returned values cost to read."""
    from types import MappingProxyType

    kinds: dict[str, Any] = {"dict": dict, "mappingproxy (before)": lambda d: MappingProxyType(dict(d))}
    seqs: dict[str, Any] = {"list": list, "tuple (before)": tuple}
    try:
        from modelreg._frozen import FrozenDict, FrozenList

        kinds["FrozenDict (now)"], seqs["FrozenList (now)"] = FrozenDict, FrozenList
    except ImportError:  # a tree from before the change
        pass

    def reader() -> Callable[[Any, Any], float]:
        """A fresh code object each time: CPython specialises each subscript site for one type,
        and one site shared by every container would measure their thrashing, not their speed."""
        namespace: dict[str, Any] = {"time": time}
        exec(_READS, namespace)  # a fixed string (above), compiled afresh
        return namespace["reads"]  # type: ignore[no-any-return]

    cases = [(label, make({"lr": 0.01, "layers": 50}), "lr") for label, make in kinds.items()]
    cases += [(label, make([64, 128, 256]), 1) for label, make in seqs.items()]
    readers = {label: reader() for label, _, _ in cases}
    best = {label: math.inf for label, _, _ in cases}
    for _ in range(repeat * 4):  # interleaved, so a burst of load elsewhere hits every case alike
        for label, container, key in cases:
            best[label] = min(best[label], readers[label](container, key))
    print("\nreading one item of a value inside metadata")
    print(f"{'container':48} {'best ns':>10} {'vs plain':>9}")
    for label, _, key in cases:
        plain = best["dict"] if isinstance(key, str) else best["list"]
        print(f"{label:48} {best[label]:10.1f} {best[label] / plain:8.2f}x")


def parsing(repeat: int) -> None:
    """ns per version parsed (cache misses, then hits), per range built and per range test."""
    from modelreg.semver import SemVer, VersionRange, parse_range, parse_version

    texts = [f"{i % 7}.{i // 7 % 50}.{i // 350}" + ("-rc.1" if i % 5 == 0 else "") for i in range(20_000)]
    ranges = [f"^{i % 9}.{i % 13}.{i}" if i % 3 else f">={i % 9}.0.{i} <{i % 9 + 1}.0.0-0 || ~1.2.{i}"
              for i in range(300)]  # 300 distinct texts
    version = SemVer(1, 4, 2)
    caret = VersionRange("^1.2.3 || >=3.0.0-rc.1 <4")

    def misses() -> None:  # 20,000 distinct texts cycle through the 4,096-entry cache: every call misses
        for text in texts:
            parse_version(text)

    def hits() -> None:
        for _ in texts:
            parse_version("1.4.2-rc.1")

    def build_ranges() -> None:
        for text in ranges:
            VersionRange(text)

    def cached_ranges() -> None:
        for text in ranges:
            parse_range(text)

    def contains() -> None:
        for _ in texts:
            caret.contains(version)

    cases = {
        "parse_version (cache miss: the parser)": (misses, len(texts)),
        "parse_version (cache hit)": (hits, len(texts)),
        "VersionRange(text) (the range parser)": (build_ranges, len(ranges)),
        "parse_range (cache hit)": (cached_ranges, len(ranges)),
        "VersionRange.contains(SemVer)": (contains, len(texts)),
    }
    best = {label: math.inf for label in cases}
    for _ in range(repeat):  # interleaved, so a burst of load elsewhere hits every case alike
        for label, (loop, count) in cases.items():
            start = time.perf_counter_ns()
            loop()
            best[label] = min(best[label], (time.perf_counter_ns() - start) / count)
    print("\nparsing versions and ranges")
    print(f"{'operation':48} {'best ns':>10}")
    for label, ns in best.items():
        print(f"{label:48} {ns:10.0f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)

    registry, flat, pairs = build(args.models, args.versions)
    print(f"MemoryRegistry: {args.models} models x {args.versions} versions = {len(pairs)} versions; "
          f"Python {sys.version.split()[0]}; best of {args.repeat}")
    rng = random.Random(42)
    baseline_for = {"get_versions": "list(dict[name])  [baseline for get_versions]"}
    for count in (1_000, 100_000):
        queries = [rng.choice(pairs) for _ in range(count)]
        results = {label: per_query_ns(loop, queries, args.repeat) for label, loop in loops(registry, flat).items()}
        base = results["dict.get((name, version))  [baseline]"][0]
        print(f"\n{count:,} queries")
        print(f"{'operation':48} {'best ns/q':>10} {'median':>10} {'ratio':>7} {'1,000 q (ms)':>13}")
        for label, (best, median) in results.items():
            ref = results[baseline_for[label]][0] if label in baseline_for else base
            print(f"{label:48} {best:10.0f} {median:10.0f} {best / ref:6.2f}x {best * 1000 / 1e6:13.4f}")
    parsing(args.repeat)
    value_access(args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
