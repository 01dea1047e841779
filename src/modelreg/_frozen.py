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

from collections.abc import Callable, Iterable
from typing import Any, NoReturn

__all__ = ["FrozenDict", "FrozenList", "frozen_dict", "frozen_list"]


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

    def __reduce__(self) -> tuple[Callable[[Any], FrozenDict], tuple[dict[str, Any]]]:
        return (frozen_dict, (dict(self),))

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

    def __reduce__(self) -> tuple[Callable[[Any], FrozenList], tuple[list[Any]]]:
        return (frozen_list, (list(self),))

    def __copy__(self) -> FrozenList:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenList:
        return self


# The classes' own constructors run Python-level __new__ (so a later __init__ call cannot
# refill them); these build the same objects through C calls only, about 3x faster, which
# matters when opening a store decodes hundreds of thousands of stored versions.
_dict_new, _dict_update = dict.__new__, dict.update
_list_new, _list_extend = list.__new__, list.extend


def frozen_dict(items: Any = ()) -> FrozenDict:
    """A FrozenDict of ``items`` (a mapping or key-value pairs); what the package builds them with."""
    made: FrozenDict = _dict_new(FrozenDict)
    _dict_update(made, items)
    return made


def frozen_list(items: Iterable[Any] = ()) -> FrozenList:
    """A FrozenList of ``items``; what the package builds them with."""
    made: FrozenList = _list_new(FrozenList)
    _list_extend(made, items)
    return made
