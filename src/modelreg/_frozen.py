"""Read-only dict and list: what returned metadata holds, so it behaves like plain Python values.

``FrozenDict`` and ``FrozenList`` subclass ``dict`` and ``list``, so they compare
equal to plain dicts and lists, ``json.dumps`` them, and read at dict and list
speed; every mutating method raises ``TypeError``. Unlike ``mappingproxy`` and
tuples they pickle, copy and deep-copy (rebuilt through their constructors),
survive ``dataclasses.asdict`` and hash, so a frozen ``ModelMetadata`` holding
them is hashable too. Only a caller that bypasses the subclass on purpose
(``dict.__setitem__(d, k, v)``) can still change one.
"""

from __future__ import annotations

from typing import Any, NoReturn

__all__ = ["FrozenDict", "FrozenList"]


def _read_only(self: object, *args: object, **kwargs: object) -> NoReturn:
    kind = "dict" if isinstance(self, dict) else "list"
    raise TypeError(
        f"{type(self).__name__} is read-only: metadata returned by the registry cannot be changed; "
        f"copy it first (e.g. {kind}(value), or ModelMetadata.to_dict())"
    )


class FrozenDict(dict[str, Any]):
    """A ``dict`` whose mutating methods raise ``TypeError``; equal to (and as fast as) a plain dict."""

    __slots__ = ()

    def __new__(cls, *args: Any, **kwargs: Any) -> FrozenDict:
        # Filled here, not in __init__, so a later ``d.__init__(...)`` cannot refill it.
        self = dict.__new__(cls)
        dict.__init__(self, *args, **kwargs)
        return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Already filled by ``__new__``."""

    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __reduce__(self) -> tuple[type[FrozenDict], tuple[dict[str, Any]]]:
        return (type(self), (dict(self),))

    def __copy__(self) -> FrozenDict:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenDict:
        return self  # immutable all the way down, like a tuple of tuples


class FrozenList(list[Any]):
    """A ``list`` whose mutating methods raise ``TypeError``; equal to (and as fast as) a plain list."""

    __slots__ = ()

    def __new__(cls, *args: Any) -> FrozenList:
        self = list.__new__(cls)
        list.__init__(self, *args)
        return self

    def __init__(self, *args: Any) -> None:
        """Already filled by ``__new__`` (``list.__init__`` would empty it first)."""

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only
    append = extend = insert = pop = remove = clear = sort = reverse = _read_only

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(self))

    def __reduce__(self) -> tuple[type[FrozenList], tuple[list[Any]]]:
        return (type(self), (list(self),))

    def __copy__(self) -> FrozenList:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenList:
        return self
