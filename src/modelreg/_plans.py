"""What a write is before storage runs it (a ``Plan``), what it stored (``Committed``), and who made it.

Shared by ``SnapshotRegistry``, the governance writes and every backend's ``_commit``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from ._state import RegistryState
from ._transitions import Change
from .events import RegistryEvent

__all__ = ["MAX_ACTOR_CHARS", "Committed", "Plan", "acting_as", "current_actor"]

current_actor: ContextVar[str | None] = ContextVar("modelreg_actor", default=None)


MAX_ACTOR_CHARS = 256


@contextmanager
def acting_as(actor: str | None) -> Iterator[None]:
    """Record ``actor`` on the events of writes made inside the block (the server uses it)."""
    if actor is not None:
        if not isinstance(actor, str):
            raise TypeError(f"actor must be a str or None, not {type(actor).__name__}")
        if not actor or len(actor) > MAX_ACTOR_CHARS or not actor.isprintable():
            raise ValueError(  # not InvalidNameError: an actor is not a model name
                f"invalid actor {actor[:80]!r}: an actor (who made a change, e.g. 'ci-bot' or a token's name) "
                f"is 1-{MAX_ACTOR_CHARS} printable characters"
            )
    token = current_actor.set(actor)
    try:
        yield
    finally:
        current_actor.reset(token)


Plan = Callable[[RegistryState], list[Change]]
"""What a write does, decided on a state: its changes, or a registry error.

A plan may run more than once for one write (PostgreSQL first tries it on its
snapshot in one round trip, and if another writer got in first, runs it again
after catching up), so it must be a pure function of the state it is given:
no side effects, nothing recorded outside what it returns.
"""


@dataclass(frozen=True, slots=True)
class Committed:
    """What one write stored: its changes (as applied) and the events they got, in order."""

    changes: tuple[Change, ...]
    events: tuple[RegistryEvent, ...]
