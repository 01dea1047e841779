"""Prometheus metrics: request counts and latencies by route template, and the registry's size.

Everything is updated from the event loop's thread only, so plain ints need no lock.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable

from .. import __version__
from ..registry import EventLog, ModelRegistry

__all__ = ["BUCKETS", "Metrics"]

BUCKETS: tuple[float, ...] = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds (seconds) of the latency histogram's buckets; +Inf is implied."""

_KNOWN_METHODS = frozenset({"GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"})


class _Histogram:
    __slots__ = ("buckets", "count", "statuses", "total")

    def __init__(self) -> None:
        self.buckets = [0] * (len(BUCKETS) + 1)
        self.count = 0
        self.total = 0.0
        self.statuses: dict[int, int] = {}  # requests answered with each status


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """Counters and histograms for one app; ``render`` gives the Prometheus text format."""

    def __init__(self, log: EventLog | None = None) -> None:
        """``log``: the served registry when it declares an event log (its revision becomes a gauge)."""
        self._log = log
        self._latency: dict[tuple[str, str], _Histogram] = {}
        self._started = time.time()
        self.gauges: dict[str, tuple[str, Callable[[], float]]] = {}  # name -> (help, read)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one finished request (``route`` is its template, never the raw path)."""
        hist = self._latency.get((method, route))
        if hist is None:
            if method not in _KNOWN_METHODS:
                method = "OTHER"  # keep label cardinality bounded whatever clients send
            hist = self._latency.setdefault((method, route), _Histogram())
        hist.statuses[status] = hist.statuses.get(status, 0) + 1
        hist.buckets[bisect.bisect_left(BUCKETS, seconds)] += 1
        hist.count += 1
        hist.total += seconds

    def render(self, registry: ModelRegistry, models: Callable[[str], bool] | None = None) -> str:
        """All metrics in the Prometheus text exposition format (version 0.0.4).

        ``models`` (a scoped token's) limits the model, version and alias counts to the models it accepts.
        """
        lines = [
            "# HELP modelreg_http_requests_total HTTP requests answered, by method, route template and status.",
            "# TYPE modelreg_http_requests_total counter",
        ]
        requests = sorted(
            (method, route, status, count)
            for (method, route), hist in self._latency.items()
            for status, count in hist.statuses.items()
        )
        for method, route, status, count in requests:
            lines.append(
                f'modelreg_http_requests_total{{method="{method}",route="{_label(route)}",status="{status}"}} {count}'
            )
        lines += [
            "# HELP modelreg_http_request_duration_seconds Time to answer HTTP requests, by method and route template.",
            "# TYPE modelreg_http_request_duration_seconds histogram",
        ]
        for (method, route), hist in sorted(self._latency.items()):
            labels = f'method="{method}",route="{_label(route)}"'
            cumulative = 0
            for bound, count in zip((*BUCKETS, float("inf")), hist.buckets, strict=True):
                cumulative += count
                le = "+Inf" if bound == float("inf") else repr(bound)
                lines.append(f'modelreg_http_request_duration_seconds_bucket{{{labels},le="{le}"}} {cumulative}')
            lines.append(f"modelreg_http_request_duration_seconds_sum{{{labels}}} {hist.total!r}")
            lines.append(f"modelreg_http_request_duration_seconds_count{{{labels}}} {hist.count}")
        names = registry.get_all_model_names()
        if models is not None:
            names = list(filter(models, names))
        versions = sum(len(registry.get_versions(name)) for name in names)
        aliases = sum(len(registry.get_aliases(name)) for name in names)
        lines += _gauge("modelreg_models", "Models with at least one version.", len(names))
        lines += _gauge("modelreg_versions", "Registered versions across all models.", versions)
        lines += _gauge("modelreg_aliases", "Aliases across all models.", aliases)
        if self._log is not None:
            revision = self._log.revision
            lines += _gauge("modelreg_registry_revision", "Revision of the last change the server has seen.", revision)
        for name, (help_text, read) in sorted(self.gauges.items()):
            lines += _gauge(name, help_text, read())
        lines += _gauge("modelreg_start_time_seconds", "Unix time the server started.", self._started)
        lines += [
            "# HELP modelreg_build_info The modelreg version serving.",
            "# TYPE modelreg_build_info gauge",
            f'modelreg_build_info{{version="{__version__}"}} 1',
        ]
        return "\n".join(lines) + "\n"


def _gauge(name: str, help_text: str, value: float) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {value!r}"]
