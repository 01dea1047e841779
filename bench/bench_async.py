"""Benchmark: ``resolve`` through AsyncRegistryClient against RegistryClient, on one server over loopback.

Starts one ``modelreg serve`` process over ``memory://`` seeded with a model of VERSIONS
versions and a ``production`` alias, then in the same run, alternating rounds:

- blocking: ``RegistryClient.resolve`` one call after another;
- async, sequential: ``await AsyncRegistryClient.resolve`` one after another (the cost of the loop);
- async, concurrent: CONCURRENCY coroutines at once with ``asyncio.gather`` (what an async service gets);
- baselines: a bare ``httpx.Client`` / ``httpx.AsyncClient`` GET of the same resolve URL (what the
  transport alone costs, so the clients' own overhead shows).

Prints µs per resolve (median over rounds) and each as a ratio of the blocking client's.

    .venv/bin/python bench/bench_async.py                  # ~2 minutes on a loaded 2-core machine
    .venv/bin/python bench/bench_async.py --calls 200 --rounds 1
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

TRAINED = datetime(2026, 1, 5, 12, 30, tzinfo=UTC)
SPECS = ["production", "^1", "latest", ">=1.2.0 <1.5.0"]
_PATH = "/api/v1/models/resnet50/resolve?spec=production"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(port: int) -> subprocess.Popen[bytes]:
    code = f"from modelreg.server import serve; serve('memory://', port={port})"
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _seed(url: str, versions: int) -> None:
    from modelreg import ModelMetadata
    from modelreg.client import RegistryClient

    with RegistryClient(url) as client:
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        for minor in range(versions):
            version = f"1.{minor}.0"
            client.register_model("resnet50", version, ModelMetadata(
                training_date=TRAINED, artifact_path=f"s3://models/resnet50/{version}",
                hyperparameters={"lr": 0.01}, performance_metrics={"top1": 0.76}))
        client.set_alias("resnet50", "production", "1.2.0")


def _blocking(url: str, calls: int) -> float:
    from modelreg.client import RegistryClient

    with RegistryClient(url) as client:
        client.resolve("resnet50", "production")  # connect outside the timing
        start = time.perf_counter()
        for i in range(calls):
            client.resolve("resnet50", SPECS[i % len(SPECS)])
        return (time.perf_counter() - start) / calls


async def _async(url: str, calls: int, concurrency: int) -> float:
    from modelreg.client import AsyncRegistryClient

    async with AsyncRegistryClient(url) as client:
        await asyncio.gather(*(client.resolve("resnet50", "production") for _ in range(concurrency)))  # connect
        start = time.perf_counter()
        if concurrency == 1:
            for i in range(calls):
                await client.resolve("resnet50", SPECS[i % len(SPECS)])
        else:
            async def worker(w: int) -> None:
                for i in range(w, calls, concurrency):
                    await client.resolve("resnet50", SPECS[i % len(SPECS)])

            await asyncio.gather(*(worker(w) for w in range(concurrency)))
        return (time.perf_counter() - start) / calls


def _raw_blocking(url: str, calls: int) -> float:
    import httpx

    with httpx.Client(base_url=url) as client:
        client.get(_PATH)
        start = time.perf_counter()
        for _ in range(calls):
            client.get(_PATH)
        return (time.perf_counter() - start) / calls


async def _raw_async(url: str, calls: int) -> float:
    import httpx

    async with httpx.AsyncClient(base_url=url) as client:
        await client.get(_PATH)
        start = time.perf_counter()
        for _ in range(calls):
            await client.get(_PATH)
        return (time.perf_counter() - start) / calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="resolves per client per round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (the median is printed)")
    parser.add_argument("--versions", type=int, default=50, help="versions of the seeded model")
    parser.add_argument("--concurrency", type=int, default=16, help="coroutines at once in the concurrent case")
    args = parser.parse_args(argv)

    port = _free_port()
    server = _start(port)
    url = f"http://127.0.0.1:{port}"
    try:
        _seed(url, args.versions)
        times: dict[str, list[float]] = {"blocking": [], "async": [], "gather": [], "raw": [], "raw-async": []}
        for _ in range(args.rounds):
            times["blocking"].append(_blocking(url, args.calls))
            times["async"].append(asyncio.run(_async(url, args.calls, 1)))
            times["gather"].append(asyncio.run(_async(url, args.calls, args.concurrency)))
            times["raw"].append(_raw_blocking(url, args.calls))
            times["raw-async"].append(asyncio.run(_raw_async(url, args.calls)))
    finally:
        server.terminate()
        server.wait(30)

    median: dict[str, Any] = {kind: statistics.median(values) for kind, values in times.items()}
    print(f"python {platform.python_version()}, {args.calls} resolves x {args.rounds} rounds, one server process "
          f"over memory:// on loopback, {args.versions} versions")
    labels = {"blocking": "RegistryClient, one after another",
              "async": "AsyncRegistryClient, awaited one after another",
              "gather": f"AsyncRegistryClient, {args.concurrency} at once (gather)",
              "raw": "bare httpx.Client GET, one after another",
              "raw-async": "bare httpx.AsyncClient GET, awaited one after another"}
    for kind, label in labels.items():
        ratio = median[kind] / median["blocking"]
        print(f"  resolve  {label:<50} {median[kind] * 1e6:8.1f} µs/call   {ratio:5.2f}x blocking")
    return 0


if __name__ == "__main__":
    sys.exit(main())
