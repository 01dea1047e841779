"""Durable backends against a MemoryRegistry baseline measured in the same run.

Usage: python bench/bench_stores.py [--postgres URL|auto] [--writes 2000] [--writers 4]
                                    [--big 100000] [--trials 20] [--queries 100000] [--repeat 5]
                                    [--history-versions 10000] [--only all|history]
                                    [--million] [--million-file PATH]

Prints Markdown tables (paste them into the README) of:
  1. registrations per second: one writer in this process, and --writers processes at once;
  2. read latency (ns per has_version / get_metadata / get_versions) when nothing changed;
  3. how long a change made by process A takes to be visible in process B (median of --trials);
  4. open time and RSS of a registry of --big versions (built in one transaction with register_many);
  5. one model's history (--history-versions versions, 50 alias moves): whole, and filtered by
     version/kinds in the store, as ratios to the unfiltered call (--only history runs just this).
  6. --million (only this section): a SQLite registry of 1,000,000 versions (10,000 models x 100) opened
     in a new process (wall and CPU seconds, RSS), reads on it against a MemoryRegistry, and one
     registration into a model of 10,000 versions in memory; --million-file keeps the built file
     at PATH and reuses it when it is there (building it takes minutes).
Ratios are against MemoryRegistry in this run; compare ratios between machines, not times.
Each SQLite section uses a new file under a temporary directory. With --postgres URL each
section uses a new schema in that database (the URL's user needs CREATE on it), dropped
afterwards; --postgres auto starts a throwaway server (tests/support/pgserver.py).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelreg import MemoryRegistry, ModelMetadata, RegistryEvent, open_registry
from modelreg.stores._durable import DurableRegistry

Fresh = Callable[[], contextlib.AbstractContextManager[str]]  # yields the URL of a new, empty registry
_schemas = itertools.count()

# -- children: run with `python -c CODE url args...`, report one JSON line -----------------------

CHILD_PRELUDE = """
import json, sys, time
from datetime import UTC, datetime
from modelreg import ModelMetadata, open_registry
def meta(name, version):
    return ModelMetadata(training_date=datetime(2026, 1, 5, tzinfo=UTC), hyperparameters={"lr": 0.01, "layers": 50},
                         performance_metrics={"top1": 0.761}, artifact_path=f"s3://models/{name}/{version}")
"""

WRITER = CHILD_PRELUDE + """
url, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
registry = open_registry(url)
print("ready", flush=True)
sys.stdin.readline()
start = time.monotonic()
for i in range(count):
    registry.register_model(f"w{i % 10}", f"{tag}.{i}.0", meta("w", i))
print(json.dumps({"start": start, "end": time.monotonic()}), flush=True)
registry.close()
"""

CHANGER = CHILD_PRELUDE + """
registry = open_registry(sys.argv[1])
print("ready", flush=True)
for line in sys.stdin:  # one version per line; answer with the moment register_model returned
    registry.register_model("visible", line.strip(), meta("visible", line.strip()))
    print(json.dumps({"returned": time.monotonic()}), flush=True)
registry.close()
"""

OPENER = """
import json, os, resource, sys, time
def rss():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: peak RSS is the best we have
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
from datetime import UTC, datetime
from modelreg import MemoryRegistry, ModelMetadata, open_registry
import modelreg.stores.sqlite
url, count = sys.argv[1], int(sys.argv[2])
if url.startswith("postgres"):
    import modelreg.stores.postgres
before = rss()
start, cpu = time.perf_counter(), time.process_time()
if url == "memory":
    registry = MemoryRegistry()
    for i in range(count):
        name, version = f"model-{i // 100:05d}", f"1.{i % 100}.0"
        registry.register_model(name, version, ModelMetadata(
            training_date=datetime(2026, 1, 5, tzinfo=UTC), hyperparameters={"lr": 0.01, "layers": 50},
            performance_metrics={"top1": i / count}, artifact_path=f"s3://models/{name}/{version}"))
else:
    registry = open_registry(url)
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
after = rss()
found = sum(len(registry.get_versions(name)) for name in registry.get_all_model_names())
result = {"seconds": elapsed, "cpu": cpu, "rss": after, "delta": after - before, "versions": found}
if len(sys.argv) > 3:  # also time reads on the opened registry: ns per call, best of 5 rounds
    pairs = [(f"model-{i // 100:05d}", f"1.{i % 100}.0") for i in range(0, count, max(1, count // 100_000))]
    calls = {"has_version": registry.has_version, "get_metadata": registry.get_metadata,
             "get_versions": lambda name, version: registry.get_versions(name)}
    for label, call in calls.items():
        best = float("inf")
        for _ in range(5):
            begin = time.perf_counter_ns()
            for name, version in pairs:
                call(name, version)
            best = min(best, (time.perf_counter_ns() - begin) / len(pairs))
        result[label] = best
print(json.dumps(result), flush=True)
registry.close()
"""


def _child(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def _line(child: subprocess.Popen[str]) -> str:
    assert child.stdout is not None
    line = child.stdout.readline()
    if not line:
        raise RuntimeError(f"benchmark child exited with {child.wait()}; see its error output above")
    return line


def _finish(child: subprocess.Popen[str]) -> None:
    if child.stdin is not None:
        child.stdin.close()
    child.wait(timeout=120)
    if child.stdout is not None:
        child.stdout.close()


# -- stores ------------------------------------------------------------------------------------


def sqlite_fresh(tmp: Path) -> Fresh:
    @contextlib.contextmanager
    def fresh() -> Iterator[str]:
        yield f"sqlite:///{tmp / f'section-{next(_schemas)}.db'}"

    return fresh


def postgres_fresh(url: str) -> Fresh:
    import psycopg

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from support.pgserver import with_search_path  # type: ignore[import-not-found,unused-ignore]

    @contextlib.contextmanager
    def fresh() -> Iterator[str]:
        schema = f"modelreg_bench_{os.getpid()}_{next(_schemas)}"
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"CREATE SCHEMA {schema}")
            try:
                yield with_search_path(url, schema)
            finally:
                admin.execute(f"DROP SCHEMA {schema} CASCADE")

    return fresh


def metadata_for(name: str, version: str, i: int = 0) -> ModelMetadata:
    return ModelMetadata(
        training_date=datetime(2026, 1, 5, tzinfo=UTC),
        hyperparameters={"lr": 0.01, "layers": 50},
        performance_metrics={"top1": 0.761 if not i else i / 1e6},
        artifact_path=f"s3://models/{name}/{version}",
    )


def _durable(url: str) -> DurableRegistry:
    registry = open_registry(url)
    assert isinstance(registry, DurableRegistry)
    return registry


# -- 1. writes -----------------------------------------------------------------------------------


def writes_single(registry: Any, count: int) -> float:
    """Registrations per second from one thread."""
    metas = [metadata_for("w", str(i)) for i in range(count)]
    start = time.perf_counter()
    for i, meta in enumerate(metas):
        registry.register_model(f"w{i % 10}", f"1.{i}.0", meta)
    return count / (time.perf_counter() - start)


def writes_concurrent(url: str, count: int, writers: int) -> float:
    """Registrations per second of ``writers`` processes together (wall time from the common start)."""
    _durable(url).close()  # schema first, so the children race on registrations only
    children = [_child(WRITER, url, str(tag + 1), str(count // writers)) for tag in range(writers)]
    try:
        for child in children:
            assert _line(child) == "ready\n"
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        spans = [json.loads(_line(child)) for child in children]
    finally:
        for child in children:
            _finish(child)
    wall = float(max(s["end"] for s in spans) - min(s["start"] for s in spans))
    return writers * (count // writers) / wall


# -- 2. reads --------------------------------------------------------------------------------------

Pairs = list[tuple[str, str]]


def read_loops(registry: Any) -> dict[str, Callable[[Pairs], None]]:
    has_version, get_metadata, get_versions = registry.has_version, registry.get_metadata, registry.get_versions

    def has(q: Pairs) -> None:
        for name, version in q:
            has_version(name, version)

    def meta(q: Pairs) -> None:
        for name, version in q:
            get_metadata(name, version)

    def listing(q: Pairs) -> None:
        for name, _ in q:
            get_versions(name)

    return {"has_version": has, "get_metadata": meta, "get_versions": listing}


def read_ns(registries: dict[str, Any], queries: Pairs, repeat: int) -> dict[str, dict[str, float]]:
    """Best ns per query over ``repeat`` rounds, per store and operation; stores alternate within a round."""
    times: dict[str, dict[str, list[float]]] = {store: {} for store in registries}
    for _ in range(repeat):
        for store, registry in registries.items():
            for label, loop in read_loops(registry).items():
                start = time.perf_counter_ns()
                loop(queries)
                times[store].setdefault(label, []).append((time.perf_counter_ns() - start) / len(queries))
    return {store: {label: min(runs) for label, runs in ops.items()} for store, ops in times.items()}


def read_data(models: int = 100, versions: int = 100) -> list[tuple[str, str, ModelMetadata]]:
    return [
        (f"model-{m:03d}", f"{i // 50}.{i % 50}.{m % 3}", metadata_for(f"model-{m:03d}", str(i)))
        for m in range(models)
        for i in range(versions)
    ]


# -- 3. visibility -----------------------------------------------------------------------------------


def visibility_ms(url: str, trials: int) -> list[float]:
    """Milliseconds from process A's register_model returning to process B's snapshot (and subscribers) having it."""
    seen: dict[str, float] = {}
    arrived = threading.Event()

    def record(event: RegistryEvent) -> None:
        if event.version is not None:
            seen[event.version] = time.monotonic()
            arrived.set()

    latencies = []
    with _durable(url) as observer, observer.subscribe(record):
        child = _child(CHANGER, url)
        try:
            assert _line(child) == "ready\n"
            assert child.stdin is not None
            for trial in range(trials):
                time.sleep(random.uniform(0.0, 0.05))  # land at a random moment of the observer's polling
                arrived.clear()
                version = f"1.{trial}.0"
                child.stdin.write(version + "\n")
                child.stdin.flush()
                returned = json.loads(_line(child))["returned"]
                if not arrived.wait(timeout=10) or version not in seen:
                    raise RuntimeError(f"{version} was not seen within 10 s")
                latencies.append((seen[version] - returned) * 1000)
        finally:
            _finish(child)
    return latencies


# -- 4. a big registry ------------------------------------------------------------------------------


def build_big(url: str, count: int) -> float:
    """Fill a new registry with ``count`` versions in one transaction; return versions per second."""
    entries = []
    for i in range(count):
        name, version = f"model-{i // 100:05d}", f"1.{i % 100}.0"
        entries.append((name, version, metadata_for(name, version, i)))
    with _durable(url) as registry:
        start = time.perf_counter()
        registry.register_many(entries)
        return count / (time.perf_counter() - start)


def open_big(url: str, count: int, reads: bool = False) -> dict[str, float]:
    child = _child(OPENER, url, str(count), *(["reads"] if reads else []))
    try:
        result: dict[str, float] = json.loads(_line(child))
    finally:
        _finish(child)
    if result["versions"] != count:
        raise RuntimeError(f"the registry opened with {result['versions']} versions, expected {count}")
    return result


# -- 5. one model's history, filtered ---------------------------------------------------------------


def history_ms(url: str, versions: int, moves: int, repeat: int) -> dict[str, float]:
    """Best-of-``repeat`` ms of a model's history: whole, filtered after the call, filtered by the store."""
    entries = [("big", f"1.0.{i}", metadata_for("big", f"1.0.{i}", i)) for i in range(versions)]
    rng = random.Random(7)
    moves_kinds = ("alias_set", "alias_removed")
    with _durable(url) as registry:
        registry.register_many(entries)
        for _ in range(moves):
            registry.set_alias("big", "production", f"1.0.{rng.randrange(versions)}")
        target = f"1.0.{versions // 2}"
        calls: dict[str, Callable[[], list[RegistryEvent]]] = {
            "history(name)": lambda: registry.history("big"),
            "history(name), kinds filtered in Python": lambda: [
                e for e in registry.history("big") if e.kind in moves_kinds],
            f"history(name, kinds={moves_kinds})": lambda: registry.history("big", kinds=moves_kinds),
            f"history(name, version={target!r})": lambda: registry.history("big", version=target),
        }
        best: dict[str, float] = {}
        for label, call in calls.items():
            times = []
            for _ in range(repeat):
                start = time.perf_counter()
                call()
                times.append(time.perf_counter() - start)
            best[label] = min(times) * 1000
        if len(registry.history("big", kinds=moves_kinds)) != moves:
            raise RuntimeError("the kinds filter did not return every alias move")
        return best


# -- report -------------------------------------------------------------------------------------------


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    print(f"\n#### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    sys.stdout.flush()


def ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}x" if base else "-"


def run(args: argparse.Namespace, backends: dict[str, Fresh]) -> None:
    print(f"### modelreg store benchmark ({datetime.now(UTC):%Y-%m-%d})\n")
    print(f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs, "
          f"{platform.system()} {platform.machine()}; MemoryRegistry measured in the same run as the baseline.")
    if args.only != "history":
        run_main_sections(args, backends)
    run_history(args, backends)


def run_history(args: argparse.Namespace, backends: dict[str, Fresh]) -> None:
    for name, fresh in backends.items():
        with fresh() as url:
            ms = history_ms(url, args.history_versions, 50, args.repeat)
        base = ms["history(name)"]
        rows = [[f"`{label}`", f"{value:.2f}", ratio(value, base)] for label, value in ms.items()]
        table(f"{name}: history of one model of {args.history_versions:,} versions and 50 alias moves "
              f"(best of {args.repeat})", ["call", "ms", "vs unfiltered"], rows)


def run_main_sections(args: argparse.Namespace, backends: dict[str, Fresh]) -> None:

    memory_rate = writes_single(MemoryRegistry(), args.writes)
    rows = [["memory, 1 writer (in-process)", f"{memory_rate:,.0f}", f"{1000 / memory_rate:.3f}", "1.00x"]]
    for name, fresh in backends.items():
        with fresh() as url, _durable(url) as registry:
            rate = writes_single(registry, args.writes)
        rows.append([f"{name}, 1 writer", f"{rate:,.0f}", f"{1000 / rate:.3f}", ratio(rate, memory_rate)])
        with fresh() as url:
            rate = writes_concurrent(url, args.writes, args.writers)
        rows.append([f"{name}, {args.writers} writer processes", f"{rate:,.0f}", f"{1000 / rate:.3f}",
                     ratio(rate, memory_rate)])
    table(f"Registrations ({args.writes:,} per row)", ["store", "registrations/s", "ms each", "vs memory"], rows)

    data = read_data()
    rng = random.Random(42)
    queries = [(name, version) for name, version, _ in rng.choices(data, k=args.queries)]
    memory = MemoryRegistry()
    for name, version, meta in data:
        memory.register_model(name, version, meta)
    with contextlib.ExitStack() as stack:
        registries: dict[str, Any] = {"memory": memory}
        for name, fresh in backends.items():
            registries[name] = stack.enter_context(_durable(stack.enter_context(fresh())))
            registries[name].register_many(data)
        results = read_ns(registries, queries, args.repeat)
    base = results["memory"]
    header = ["operation", *(f"{n} ns" for n in results), *(f"{n} vs memory" for n in backends)]
    rows = [[op, *(f"{r[op]:.0f}" for r in results.values()), *(ratio(results[n][op], base[op]) for n in backends)]
            for op in base]
    table(f"Reads when nothing changed ({len(data):,} versions, best of {args.repeat} x {args.queries:,} queries)",
          header, rows)

    rows = []
    for name, fresh in backends.items():
        with fresh() as url:
            ms = visibility_ms(url, args.trials)
        rows.append([name, f"{statistics.median(ms):.1f}", f"{min(ms):.1f}", f"{max(ms):.1f}"])
    table(f"A change in process A visible in process B ({args.trials} trials; SQLite polls every 20 ms)",
          ["store", "median ms", "min ms", "max ms"], rows)

    memory_big = open_big("memory", args.big)
    rows = [["memory (built by register_model)", "-", f"{memory_big['seconds']:.2f}", "1.00x",
             f"{memory_big['rss'] / 1e6:.0f}", f"{memory_big['delta'] / 1e6:.0f}", "1.00x"]]
    for name, fresh in backends.items():
        with fresh() as url:
            build_rate = build_big(url, args.big)
            opened = open_big(url, args.big)
        rows.append([f"{name} (opened)", f"{build_rate:,.0f}", f"{opened['seconds']:.2f}",
                     ratio(opened["seconds"], memory_big["seconds"]), f"{opened['rss'] / 1e6:.0f}",
                     f"{opened['delta'] / 1e6:.0f}", ratio(opened["delta"], memory_big["delta"])])
    table(f"A registry of {args.big:,} versions ({args.big // 100:,} models x 100)",
          ["store", "bulk import versions/s", "open s", "vs memory", "RSS MB", "RSS growth MB", "vs memory"], rows)


# -- 6. a million versions ------------------------------------------------------------------------------


def build_million(path: Path, count: int) -> float:
    """Fill a new SQLite registry at ``path`` in batches of 10,000 (one transaction each); versions/s."""
    start = time.perf_counter()
    with _durable(f"sqlite:///{path}") as registry:
        batch = []
        for i in range(count):
            name, version = f"model-{i // 100:05d}", f"1.{i % 100}.0"
            batch.append((name, version, metadata_for(name, version, i)))
            if len(batch) == 10_000:
                registry.register_many(batch)
                batch = []
        if batch:
            registry.register_many(batch)
    return count / (time.perf_counter() - start)


def registration_ms(size: int, count: int = 1000) -> float:
    """Milliseconds per registration into a MemoryRegistry model that already has ``size`` versions."""
    registry = MemoryRegistry()
    metas = [metadata_for("big", str(i)) for i in range(size + count)]
    for i in range(size):
        registry.register_model("big", f"1.0.{i}", metas[i])
    start = time.perf_counter()
    for i in range(size, size + count):
        registry.register_model("big", f"1.0.{i}", metas[i])
    return (time.perf_counter() - start) * 1000 / count


def run_million(args: argparse.Namespace, tmp: Path) -> None:
    count = 1_000_000
    path = Path(args.million_file) if args.million_file else tmp / "million.db"
    built = "reused" if path.exists() else f"{build_million(path, count):,.0f} versions/s"
    opened = open_big(f"sqlite:///{path}", count, reads=True)
    memory = open_big("memory", 10_000, reads=True)
    table(f"A SQLite registry of {count:,} versions (10,000 models x 100; built: {built})",
          ["open s (wall)", "open s (CPU)", "RSS MB", "RSS growth MB"],
          [[f"{opened['seconds']:.2f}", f"{opened['cpu']:.2f}", f"{opened['rss'] / 1e6:.0f}",
            f"{opened['delta'] / 1e6:.0f}"]])
    table("Reads on it against a MemoryRegistry of 10,000 versions (ns per call, best of 5)",
          ["operation", "1M SQLite ns", "memory ns", "vs memory"],
          [[op, f"{opened[op]:.0f}", f"{memory[op]:.0f}", ratio(opened[op], memory[op])]
           for op in ("has_version", "get_metadata", "get_versions")])
    rows = [[f"{size:,}", f"{registration_ms(size):.3f}"] for size in (100, 1_000, 10_000)]
    table("One registration into a model of N versions (MemoryRegistry, ms each, 1,000 registrations)",
          ["N", "ms"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", metavar="URL", help="also measure PostgreSQL at URL, or 'auto' to start one")
    parser.add_argument("--writes", type=int, default=2000, help="registrations per write measurement")
    parser.add_argument("--writers", type=int, default=4, help="concurrent writer processes")
    parser.add_argument("--big", type=int, default=100_000, help="versions in the big registry (a multiple of 100)")
    parser.add_argument("--trials", type=int, default=20, help="visibility trials")
    parser.add_argument("--queries", type=int, default=100_000, help="queries per read measurement")
    parser.add_argument("--repeat", type=int, default=5, help="read runs; the best is reported")
    parser.add_argument("--history-versions", type=int, default=10_000, help="versions of the history model")
    parser.add_argument("--only", choices=["all", "history"], default="all", help="run every section, or one")
    parser.add_argument("--million", action="store_true", help="run only the 1,000,000-version section")
    parser.add_argument("--million-file", metavar="PATH", help="with --million: keep (or reuse) the SQLite file here")
    args = parser.parse_args(argv)
    for option in ("writes", "writers", "big", "trials", "queries", "repeat", "history_versions"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1")
    if args.big % 100:
        parser.error("--big must be a multiple of 100 (the registry has 100 versions per model)")

    with tempfile.TemporaryDirectory(prefix="modelreg-bench-") as tmp, contextlib.ExitStack() as stack:
        if args.million:
            run_million(args, Path(tmp))
            return 0
        backends: dict[str, Fresh] = {"sqlite": sqlite_fresh(Path(tmp))}
        if args.postgres:
            try:
                from modelreg.stores.postgres import PostgresRegistry  # noqa: F401
            except ImportError as exc:
                parser.error(f"--postgres needs modelreg.stores.postgres and psycopg: {exc}")
            url = args.postgres
            if url == "auto":
                sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
                from support.pgserver import postgres_url  # type: ignore[import-not-found,unused-ignore]

                url = stack.enter_context(postgres_url())
            backends["postgresql"] = postgres_fresh(url)
        run(args, backends)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
