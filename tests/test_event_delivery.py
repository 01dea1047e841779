"""Event delivery guarantees of the in-process registries (memory, SQLite, PostgreSQL).

Over HTTP, delivery comes from the server's event stream and is asynchronous to
the client's own writes, so these stronger guarantees are not part of the
conformance suite.
"""

from __future__ import annotations

import pytest

from factories import metadata
from modelreg import ModelRegistry, RegistryEvent


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def local_registry(request: pytest.FixtureRequest) -> ModelRegistry:
    return request.getfixturevalue(f"{request.param}_registry")  # type: ignore[no-any-return]


def test_closing_a_subscription_first_delivers_what_was_committed_before(local_registry: ModelRegistry) -> None:
    seen: list[RegistryEvent] = []
    with local_registry.subscribe(seen.append):
        local_registry.register_model("m", "1.0.0", metadata())
        local_registry.set_alias("m", "production", "1.0.0")
    # No waiting here: leaving the block delivered the changes made inside it.
    assert [(e.kind, e.version) for e in seen] == [("registered", "1.0.0"), ("alias_set", "1.0.0")]


def test_a_callback_may_close_its_own_subscription_and_write(local_registry: ModelRegistry) -> None:
    from factories import wait_until

    seen: list[RegistryEvent] = []
    holder: dict[str, object] = {}

    def once(event: RegistryEvent) -> None:
        seen.append(event)
        holder["sub"].close()  # type: ignore[attr-defined]
        local_registry.register_model("m", "9.0.0", metadata())  # a write from inside a callback

    holder["sub"] = local_registry.subscribe(once)
    local_registry.register_model("m", "1.0.0", metadata())

    assert wait_until(lambda: local_registry.has_version("m", "9.0.0"))
    assert [e.version for e in seen] == ["1.0.0"]
