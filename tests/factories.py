"""Builders shared by the tests: metadata with sensible defaults, and waiting helpers."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

from modelreg import ModelMetadata

T = TypeVar("T")

TRAINED = datetime(2026, 1, 5, 12, 30, tzinfo=UTC)


def metadata(**overrides: Any) -> ModelMetadata:
    """A valid ModelMetadata; keywords replace the defaults."""
    fields: dict[str, Any] = {
        "training_date": TRAINED,
        "hyperparameters": {"lr": 0.01, "layers": 50, "optimizer": {"name": "sgd", "momentum": 0.9}},
        "performance_metrics": {"top1": 0.761, "top5": 0.93},
        "artifact_path": "s3://models/resnet50/1.0.0",
        "tags": {"team": "vision"},
    }
    fields.update(overrides)
    return ModelMetadata(**fields)


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return predicate()
        time.sleep(interval)


def finishes(call: Callable[[], T], timeout: float = 5.0) -> T:
    """``call()``'s result, computed in another thread; TimeoutError if it is still blocked after ``timeout``."""
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(call).result(timeout=timeout)
    finally:
        pool.shutdown(wait=False)
