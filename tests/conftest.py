"""Backends for the conformance suite: each ``<backend>_registry`` fixture yields a fresh, empty registry.

``MODELREG_BACKENDS=memory,sqlite`` narrows the run to some backends.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest
from hypothesis import settings

from fixtures.async_backend import *  # noqa: F403
from fixtures.http_backend import *  # noqa: F403
from fixtures.mirror_backend import *  # noqa: F403
from fixtures.node_semver import *  # noqa: F403
from fixtures.postgres_backend import *  # noqa: F403
from fixtures.server_processes import *  # noqa: F403
from fixtures.sqlite_backend import *  # noqa: F403
from modelreg import MemoryRegistry, ModelRegistry, acting_as

# Per-example deadlines measure the machine, not the code: CI machines are shared and noisy.
settings.register_profile("modelreg", deadline=None)
settings.load_profile("modelreg")

ALL_BACKENDS = ["memory", "sqlite", "postgresql", "http", "async", "mirror"]
BACKENDS = [b for b in os.environ.get("MODELREG_BACKENDS", ",".join(ALL_BACKENDS)).split(",") if b]


@pytest.fixture
def memory_registry() -> Iterator[ModelRegistry]:
    with MemoryRegistry() as registry:
        yield registry


@pytest.fixture(params=BACKENDS)
def registry(request: pytest.FixtureRequest) -> ModelRegistry:
    """The registry under test, once per backend."""
    return request.getfixturevalue(f"{request.param}_registry")  # type: ignore[no-any-return]


Act = Callable[[str], AbstractContextManager[ModelRegistry]]


@pytest.fixture
def act(registry: ModelRegistry, request: pytest.FixtureRequest) -> Act:
    """``act(name)``: a context giving ``registry`` as the actor ``name`` sees it (a write token's name over HTTP)."""
    backend = request.node.callspec.params.get("registry")
    if backend in ("http", "async", "mirror"):  # tokens named for the actor, on the tenant server
        return request.getfixturevalue(f"{backend}_act")  # type: ignore[no-any-return]

    @contextmanager
    def acting(name: str) -> Iterator[ModelRegistry]:
        with acting_as(name):
            yield registry

    return acting
