"""Webhook delivery latency, and the registry's write throughput with healthy and dead receivers against none.

Usage: python bench/bench_webhooks.py [--deliveries 300] [--writes 300] [--rounds 3] [--hooks 10]

In one run, each against its own ``modelreg serve`` over a SQLite file on loopback:
- latency: a registration through ``RegistryClient``, from its 201 (committed) until a loopback
  receiver (http.server in this process) has the signed POST; median and p99;
- throughput: sequential registrations per second on a server without webhooks, on one whose
  ``--hooks`` webhooks all deliver to a healthy receiver (in a process of its own; every write is
  delivered ``--hooks`` times), on one whose ``--hooks`` webhooks point at a port that refuses connections (retried with
  a 0.05 s backoff bounded at 0.2 s: a failed attempt every few tenths of a second per webhook), and
  on one whose ``--hooks`` webhooks point at a receiver that accepts and never answers (each attempt
  waits its whole timeout); rounds alternated between them; each ratio against none.
Prints a Markdown table (paste it into the README).
"""

from __future__ import annotations

import argparse
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from _serve import start_server

from modelreg import ModelMetadata
from modelreg.client import RegistryClient

META = ModelMetadata(training_date=datetime(2026, 1, 5, tzinfo=UTC), hyperparameters={"lr": 0.01},
                     performance_metrics={"top1": 0.76}, artifact_path="s3://m/x")


class _Arrivals:
    """When each delivery arrived (perf_counter), by event revision."""

    def __init__(self) -> None:
        self.at: dict[int, float] = {}
        self.cond = threading.Condition()

    def wait(self, revision: int, timeout: float = 30.0) -> float:
        with self.cond:
            if not self.cond.wait_for(lambda: revision in self.at, timeout):
                raise SystemExit(f"revision {revision} was not delivered within {timeout} s")
            return self.at[revision]


def _receiver(arrivals: _Arrivals) -> ThreadingHTTPServer:
    import json

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            now = time.perf_counter()
            event = json.loads(body).get("event")
            self.send_response(204)
            self.end_headers()
            if event:
                with arrivals.cond:
                    arrivals.at[int(event["revision"])] = now
                    arrivals.cond.notify_all()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


_RECEIVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def _healthy_receiver() -> tuple[subprocess.Popen[bytes], int]:
    """A receiver answering 204 in a process of its own, so its work does not slow this one's writes."""
    proc = subprocess.Popen([sys.executable, "-c", _RECEIVER], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def _start(url: str, log: Path, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    return start_server(url, log, {"MODELREG_WEBHOOK_TIMEOUT": "10", **(env or {})})


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _latency(base: str, count: int) -> list[float]:
    arrivals = _Arrivals()
    receiver = _receiver(arrivals)
    try:
        with RegistryClient(base) as client:
            client.add_webhook(f"http://127.0.0.1:{receiver.server_address[1]}/hook")
            times = []
            for i in range(count):
                client.register_model("latency", f"1.0.{i}", META)
                answered = time.perf_counter()
                revision = client.revision
                times.append(arrivals.wait(revision) - answered)
            return times
    finally:
        receiver.shutdown()
        receiver.server_close()


def _writes(client: RegistryClient, model: str, start: int, count: int) -> float:
    """Registrations per second over ``count`` sequential ones."""
    started = time.perf_counter()
    for i in range(start, start + count):
        client.register_model(model, f"2.0.{i}", META)
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=300)
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hooks", "--dead-hooks", dest="hooks", type=int, default=10)
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1024)  # accepts (the kernel does), never answers
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        refused = sock.getsockname()[1]  # closed again: connections to it are refused
    healthy, healthy_port = _healthy_receiver()
    short = {"MODELREG_WEBHOOK_BACKOFF": "0.05", "MODELREG_WEBHOOK_MAX_BACKOFF": "0.2"}
    targets = {"none": None, "healthy": f"http://127.0.0.1:{healthy_port}/hook",
               "refused": f"http://127.0.0.1:{refused}/hook", "silent": f"http://127.0.0.1:{silent.getsockname()[1]}/hook"}
    servers = {name: _start(f"sqlite:///{work / f'{name}.db'}", work / f"{name}.log", short) for name in targets}
    clients: dict[str, RegistryClient] = {}
    try:
        latency = _latency(servers["none"][1], opts.deliveries)
        clients = {name: RegistryClient(base) for name, (_, base) in servers.items()}
        for name, target in targets.items():
            for _ in range(opts.hooks if target else 0):
                clients[name].add_webhook(target)
        rates: dict[str, list[float]] = {name: [] for name in targets}
        for r in range(opts.rounds):
            for name, client in clients.items():
                rates[name].append(_writes(client, "throughput", r * opts.writes, opts.writes))
        failing = {name: sum(h.failures for h in clients[name].list_webhooks()) for name in ("refused", "silent")}
    finally:
        for client in clients.values():
            client.close()
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(60)
        silent.close()
        healthy.terminate()
        healthy.wait(60)
    best = {key: max(values) for key, values in rates.items()}
    print(f"bench_webhooks on {platform.python_implementation()} {platform.python_version()}, SQLite, loopback")
    print()
    print("| measure | figure |")
    print("|---|---|")
    print(f"| delivery latency, 201 -> receiver ({len(latency)} events) | median "
          f"{statistics.median(latency) * 1e3:.2f} ms, p99 {_pct(latency, 0.99) * 1e3:.2f} ms |")
    print(f"| writes/s, no webhooks (best of {opts.rounds}) | {best['none']:.0f} |")
    for name, what in (("healthy", "to a healthy receiver"), ("refused", "to a port that refuses connections"),
                       ("silent", "to a receiver that never answers")):
        print(f"| writes/s, {opts.hooks} webhooks {what} | {best[name]:.0f} ({best[name] / best['none']:.2f}x) |")
    print(f"| dead / none (refused; never answering) | {best['refused'] / best['none']:.2f}x; "
          f"{best['silent'] / best['none']:.2f}x |")
    print()
    print(f"failed attempts meanwhile: {failing['refused']} refused, {failing['silent']} unanswered "
          "(the failure counts at the end)")


if __name__ == "__main__":
    main()
