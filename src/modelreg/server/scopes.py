"""Scoped tokens on the server: what a caller whose token names ``models`` may see, decided in one place.

A scoped caller sees only the models its patterns match (``Token.sees``). Lists, search
and the event feed are filtered through ``Scoped``; a request about one model outside the
scope is served from ``NOWHERE``, an empty registry, so it answers exactly as a model that
does not exist would (404 and the same message), and a write that would create such a
model is refused with 403 whether or not it exists. Nothing tells an unseen model apart
from a missing one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .._base import SnapshotRegistry
from .._deadline import Deadline
from .._plans import Committed, Plan
from .._tokenfile import in_scope
from ..memory import MemoryRegistry
from ..records import SearchPage
from ..registry import ModelRegistry
from .problems import HTTPProblem

__all__ = ["NOWHERE", "Scoped", "scoped_search"]


class _Nowhere(MemoryRegistry):
    """A registry that holds nothing and never will: the view of every model outside a caller's scope.

    Each write runs its plan on the empty state first, so one that needs an existing model fails as it
    would for a missing one; a write that would succeed (registering a first version) is refused.
    """

    def _commit(self, plan: Plan, deadline: Deadline) -> Committed:
        plan(self._state)  # raises what a missing model raises
        raise HTTPProblem(
            "forbidden",
            "this token may not create models outside its scope: its 'models' patterns do not match this name",
        )


NOWHERE: ModelRegistry = _Nowhere(history_limit=0)
"""The empty registry a request about an unseen model is served from (it stays empty: every write is refused)."""


class Scoped:
    """The caller's model scope (``models``: glob patterns, None for every model) and the checks built on it."""

    __slots__ = ()
    models: tuple[str, ...] | None

    def visible(self, name: str) -> bool:
        """Whether the caller may see model ``name``."""
        return in_scope(self.models, name)

    def visible_names(self, names: Iterable[str]) -> list[str]:
        """The names among ``names`` the caller may see, in their order."""
        return list(names) if self.models is None else [name for name in names if self.visible(name)]

    @property
    def model_filter(self) -> Callable[[str], bool] | None:
        """``visible`` for a scoped caller, None for one that sees everything (the fast path of lists and the feed)."""
        return None if self.models is None else self.visible


def scoped_search(
    registry: ModelRegistry, who: Scoped, where: str, *, name: str | None, order_by: str, limit: int,
    cursor: str | None,
) -> SearchPage:
    """``registry.search`` over only the models ``who`` may see: ``total`` and cursors count no other model."""
    if name is not None and not who.visible(name):
        registry = NOWHERE  # as a search of a model that does not exist: no items, total 0
    if who.models is None or name is not None:
        return registry.search(where, name=name, order_by=order_by, limit=limit, cursor=cursor)
    if not isinstance(registry, SnapshotRegistry):
        raise HTTPProblem(
            "forbidden",
            "a token scoped to some models can search this registry one model at a time only: pass name=MODEL",
        )
    return registry.search(where, order_by=order_by, limit=limit, cursor=cursor, models=who.visible)
