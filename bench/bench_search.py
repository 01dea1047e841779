"""Search latency over 100,000 versions against a plain list comprehension doing the same work in the same run.

Usage: python bench/bench_search.py [--models 1000] [--versions 100] [--repeat 30] [--big-model 10000]
                                     [--http [--connections 16] [--duration 5]]

Builds 1,000 models x 100 versions (metrics top1/latency_ms, params optimizer/lr/layers,
tags team/stage) in a MemoryRegistry when it has ``search`` (else it calls the engine,
``run_search``, over the same candidates), then prints p50 and p99 of:

- a selective query (~0.1% match), default order, limit 100;
- an unselective one (~50%) ordered by a metric, limit 20;
- a ``name=``-restricted one (100 versions of one model);

each next to a list comprehension with the same filter and the same sort over the same
records, and the ratio (search / comprehension; below 1 is faster). Then heapq.nsmallest
against a full sort for the page of 20 out of 50,000 matches (what the engine uses), each
common ``FIELD desc`` order against ``FIELD`` ascending over one model of ``--big-model``
versions (the ratio should be near 1), and the parse cost of a short and a long query.
With ``--http``, a server over the same versions in a child process, and the HTTP search's
requests/s at ``--connections`` keep-alive connections for each query, with the load
generator of bench_server.py.
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from modelreg import MemoryRegistry, ModelMetadata, SearchPage, VersionRecord
from modelreg._query import parse_where
from modelreg._search import Candidate, compile_where, run_search
from modelreg.semver import parse_version

SELECTIVE = "metrics.top1 >= 0.999"
UNSELECTIVE = ("params.optimizer = 'adam'", "metrics.top1 desc")
RESTRICTED = "metrics.top1 >= 0.5"
SHORT_QUERY = "metrics.top1 >= 0.76"
LONG_QUERY = (
    "(metrics.top1 >= 0.76 and params.optimizer = 'adam' and version satisfies '^2') or "
    "(tags.team in ('vision', 'nlp') and not alias exists and training_date > '2026-01-05T00:00:00Z') or "
    "(name like 'model-1%' and metrics.`latency_ms` < 15 and params.opt.name ilike 'SGD%' and "
    "description != '' and registered_at <= '2026-06-01')"
)


def records(models: int, versions: int, seed: int = 9) -> list[Candidate]:
    """The benchmark's versions as candidates, every figure drawn from one seeded generator."""
    rng = random.Random(seed)
    base = datetime(2026, 1, 5, tzinfo=UTC)
    out: list[Candidate] = []
    for m in range(models):
        name = f"model-{m:04d}"
        for i in range(versions):
            text = f"{i // 10}.{i % 10}.0"
            meta = ModelMetadata(
                training_date=base + timedelta(hours=i),
                artifact_path=f"s3://models/{name}/{text}",
                hyperparameters={"optimizer": rng.choice(("adam", "sgd")), "lr": rng.choice((0.1, 0.01, 0.001)),
                                 "layers": rng.choice((18, 50, 101))},
                performance_metrics={"top1": rng.random(), "latency_ms": rng.uniform(5, 30)},
                tags={"team": rng.choice(("vision", "nlp", "speech")), "stage": "eval"},
                version=text,
            )
            record = VersionRecord(name, text, meta, (), base + timedelta(days=1, hours=i), "bench")
            out.append((record, parse_version(text)))
    return out


def registry_of(candidates: list[Candidate]) -> MemoryRegistry | None:
    """A MemoryRegistry holding the same versions, if MemoryRegistry has search (else None)."""
    if not hasattr(MemoryRegistry, "search"):
        return None
    registry = MemoryRegistry(history_limit=0)
    for record, _ in candidates:
        registry.register_model(record.name, record.version, record.metadata)
    return registry


def _p50_p99(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times), times[min(len(times) - 1, math.ceil(len(times) * 0.99) - 1)]


def timings(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    """p50 and p99 of ``call()`` in ms over ``repeat`` calls (after one warm-up call)."""
    return paired(call, call, repeat)[0]


def paired(first: Callable[[], object], second: Callable[[], object], repeat: int) -> list[tuple[float, float]]:
    """p50 and p99 in ms of each of two calls, alternated so that load from elsewhere falls on both alike."""
    first(), second()
    times: list[list[float]] = [[], []]
    for _ in range(repeat):
        for i, call in enumerate((first, second)):
            start = time.perf_counter_ns()
            call()
            times[i].append((time.perf_counter_ns() - start) / 1e6)
    return [_p50_p99(t) for t in times]


def default_key(c: Candidate) -> tuple[Any, ...]:
    return (c[0].name, c[1])


def top1_desc_key(c: Candidate) -> tuple[Any, ...]:
    return (-c[0].metadata.performance_metrics["top1"], c[0].name, c[1])


def searches(candidates: list[Candidate], registry: MemoryRegistry | None) -> dict[str, tuple[Callable[[], Any], ...]]:
    """Each case: the search call and the list comprehension doing the same filter and sort."""
    by_name: dict[str, list[Candidate]] = {}
    for c in candidates:
        by_name.setdefault(c[0].name, []).append(c)
    one = sorted(by_name)[len(by_name) // 2]

    def search(where: str, order_by: str = "", limit: int = 100, name: str | None = None) -> SearchPage:
        if registry is not None:
            return registry.search(where, name=name, order_by=order_by, limit=limit)
        pool = candidates if name is None else by_name[name]
        return run_search(pool, where, order_by=order_by, limit=limit, cursor=None, scope=name or "")

    def plain_selective() -> list[VersionRecord]:
        found = [c for c in candidates if c[0].metadata.performance_metrics.get("top1", -1.0) >= 0.999]
        return [c[0] for c in sorted(found, key=default_key)[:100]]

    def plain_unselective() -> list[VersionRecord]:
        found = [c for c in candidates if c[0].metadata.hyperparameters.get("optimizer") == "adam"]
        return [c[0] for c in sorted(found, key=top1_desc_key)[:20]]

    def plain_restricted() -> list[VersionRecord]:
        found = [c for c in by_name[one] if c[0].metadata.performance_metrics.get("top1", -1.0) >= 0.5]
        return [c[0] for c in sorted(found, key=default_key)[:100]]

    cases: dict[str, tuple[Callable[[], Any], ...]] = {
        "selective (~0.1%)": (lambda: search(SELECTIVE), plain_selective),
        "unselective (~50%), order_by metric, limit 20": (
            lambda: search(UNSELECTIVE[0], UNSELECTIVE[1], limit=20), plain_unselective),
        f"name={one!r} (100 versions)": (lambda: search(RESTRICTED, name=one), plain_restricted),
    }
    if registry is not None:  # the engine alone, over a list, shows what the registry's candidate walk adds
        cases["selective, run_search over a list"] = (
            lambda: run_search(candidates, SELECTIVE, order_by="", limit=100, cursor=None), plain_selective)
    return cases


def check_same(case: str, page: SearchPage, plain: list[VersionRecord]) -> None:
    if [(r.name, r.version) for r in page.items] != [(r.name, r.version) for r in plain]:
        raise SystemExit(f"{case}: search and the list comprehension disagree")


def page_selection(candidates: list[Candidate], repeat: int) -> None:
    """heapq.nsmallest against sorted()[:k] for a page of 20 out of the ~50% that match."""
    matches = [c for c in candidates if c[0].metadata.hyperparameters.get("optimizer") == "adam"]
    (p50_heap, _), (p50_sort, _) = paired(lambda: heapq.nsmallest(21, matches, key=top1_desc_key),
                                          lambda: sorted(matches, key=top1_desc_key)[:21], repeat)
    print(f"\npage of 20 from {len(matches):,} matches: heapq.nsmallest {p50_heap:.1f} ms, "
          f"sorted()[:21] {p50_sort:.1f} ms (ratio {p50_heap / p50_sort:.2f})")


DESCENDING_FIELDS = ("version", "registered_at", "training_date", "params.lr", "name")
"""The fields of the desc/asc cases; ``name`` over one model is all ties, so it is measured over every model too."""


def one_big_model(versions: int, seed: int = 3) -> MemoryRegistry:
    """A MemoryRegistry of one model ``big`` with ``versions`` versions (training dates and lr with many ties)."""
    rng = random.Random(seed)
    registry = MemoryRegistry()
    base = datetime(2026, 1, 5, tzinfo=UTC)
    for i in range(versions):
        text = f"{i // 100}.{i % 100}.0"
        registry.register_model("big", text, ModelMetadata(
            training_date=base + timedelta(hours=i % 500), artifact_path=f"s3://models/big/{text}",
            hyperparameters={"lr": rng.choice((0.1, 0.01, 0.001, "auto"))},
            performance_metrics={"top1": rng.random()}))
    return registry


def descending_orders(versions: int, everything: MemoryRegistry | None, repeat: int) -> None:
    """``FIELD desc`` against ``FIELD`` (ascending), a page of 100, alternated in one run.

    Over one model's ``versions`` for every field, and over ``everything`` for ``name`` (in one
    model every version has the same name, so that order is all ties).
    """
    if everything is None:
        return
    big = one_big_model(versions)
    print("\norder_by, limit 100: p50 / p99 ms")
    print(f"{'case':44} {'desc':>15} {'asc':>15} {'desc / asc p50':>15}")
    cases = [(big, "big", field, f"{field}, name='big' ({versions:,} versions)") for field in DESCENDING_FIELDS]
    cases.append((everything, None, "name", f"name ({everything.search(limit=1).total:,} versions)"))
    for registry, name, field, label in cases:
        def down(r: MemoryRegistry = registry, n: str | None = name, f: str = field) -> SearchPage:
            return r.search(name=n, order_by=f"{f} desc", limit=100)

        def up(r: MemoryRegistry = registry, n: str | None = name, f: str = field) -> SearchPage:
            return r.search(name=n, order_by=f, limit=100)

        if down().total != up().total or len(down().items) != 100:
            raise SystemExit(f"{field}: the descending and ascending searches disagree on the matches")
        (d50, d99), (a50, a99) = paired(down, up, repeat)
        print(f"{label:44} {d50:7.2f} / {d99:5.2f} {a50:7.2f} / {a99:5.2f} {d50 / a50:15.2f}")


def parse_cost(rounds: int = 2000) -> None:
    """µs to parse, and to parse and compile, a short and a long query (no cache)."""
    print("\nparse cost (uncached), µs per query:")
    compile_uncached = compile_where.__wrapped__  # type: ignore[attr-defined]
    for label, text in (("short", SHORT_QUERY), ("long", LONG_QUERY)):
        results = []
        for step in (parse_where, compile_uncached):
            start = time.perf_counter_ns()
            for _ in range(rounds):
                step(text)
            results.append((time.perf_counter_ns() - start) / rounds / 1000)
        print(f"  {label:5} ({len(text):3} chars): parse {results[0]:6.1f}   parse+compile {results[1]:6.1f}")


def _bench_server() -> Any:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_server

    return bench_server


def serve_http(port: int, models: int, versions: int) -> None:
    """The child process of ``--http``: the benchmark's versions in a MemoryRegistry, served on ``port``."""
    import uvicorn

    from modelreg.server import create_app
    from modelreg.server.run import server_config

    registry = registry_of(records(models, versions))
    if registry is None:
        raise SystemExit("MemoryRegistry has no search() yet")
    config = server_config(create_app(registry))
    config.log_level = "warning"
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    uvicorn.Server(config).run(sockets=[sock])


def http_search(opts: argparse.Namespace) -> None:
    """Requests/s of GET /api/v1/search at ``--connections``, with bench_server.py's load generator."""
    bench_server = _bench_server()
    paths = [
        "/api/v1/search?" + urlencode({"where": SELECTIVE, "limit": 20}),
        "/api/v1/search?" + urlencode({"where": UNSELECTIVE[0], "order_by": UNSELECTIVE[1], "limit": 20}),
        "/api/v1/search?" + urlencode({"where": RESTRICTED, "name": "model-0500", "limit": 20}),
    ]
    port = bench_server._free_port()
    with tempfile.TemporaryDirectory(prefix="modelreg-bench-") as tmp:
        command = [sys.executable, __file__, "--serve-http", str(port), str(opts.models), str(opts.versions)]
        server, started = bench_server._start(command, port, Path(tmp) / "server.log")
        try:
            print(f"\nHTTP search (server up in {started:.0f} s), {opts.connections} keep-alive connections, "
                  f"{opts.duration:g} s each:")
            for path in paths:
                spec = {"port": port, "method": "GET", "paths": [path], "connections": opts.connections,
                        "duration": opts.duration, "warmup": 0.5, "round": 0, "models": opts.models}
                print("  " + bench_server._row(path.split("?", 1)[1][:60], bench_server._drive(spec, Path(tmp))))
        finally:
            bench_server._stop(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=30, help="calls per figure (p99 needs enough of them)")
    parser.add_argument("--big-model", type=int, default=10_000, help="versions of the model of the desc/asc cases")
    parser.add_argument("--http", action="store_true", help="also serve the versions and load GET /api/v1/search")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of HTTP load per query")
    parser.add_argument("--serve-http", nargs=3, type=int, help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.serve_http:
        serve_http(*opts.serve_http)
        return

    candidates = records(opts.models, opts.versions)
    registry = registry_of(candidates)
    through = "MemoryRegistry.search" if registry is not None else "run_search over the candidates"
    print(f"{len(candidates):,} versions, {through}; p50 / p99 in ms over {opts.repeat} calls each, alternated")
    print(f"{'case':48} {'search':>15} {'list comp.':>15} {'ratio p50':>9}")
    for case, (search, plain) in searches(candidates, registry).items():
        check_same(case, search(), plain())
        repeat = opts.repeat * 10 if case.startswith("name=") else opts.repeat
        (s50, s99), (p50, p99) = paired(search, plain, repeat)
        print(f"{case:48} {s50:7.2f} / {s99:5.2f} {p50:7.2f} / {p99:5.2f} {s50 / p50:9.2f}")
    page_selection(candidates, max(5, opts.repeat // 3))
    descending_orders(opts.big_model, registry, opts.repeat)
    parse_cost()
    if opts.http:
        http_search(opts)
    else:
        print("\nHTTP search: add --http for its requests/s (needs the search route and modelreg[server])")


if __name__ == "__main__":
    main()
