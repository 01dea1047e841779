"""Router: finds a route by a dict lookup on path segments instead of matching regular expressions one by one."""

from __future__ import annotations

from .call import Route

__all__ = ["Router"]


class Router:
    """Finds a route by a dict lookup: paths of one length put their parameters at the same places."""

    def __init__(self, routes: tuple[Route, ...]) -> None:
        self._params: dict[int, tuple[int, ...]] = {}
        self._table: dict[tuple[str, ...], Route] = {}
        for route in routes:
            params = tuple(i for i, s in enumerate(route.segments) if s is None)
            if self._params.setdefault(len(route.segments), params) != params:
                raise ValueError(f"{route.template}: parameters must sit where other routes of its length have them")
            self._table[self._key([s or "" for s in route.segments], params)] = route

    @staticmethod
    def _key(segments: list[str], params: tuple[int, ...]) -> tuple[str, ...]:
        key = segments.copy()
        for i in params:
            key[i] = ""
        return tuple(key)

    def match(self, segments: list[str]) -> tuple[Route, list[str]] | None:
        """The route for these path segments and its parameter values, or None."""
        params = self._params.get(len(segments))
        if params is None:
            return None
        route = self._table.get(self._key(segments, params))
        if route is None:
            return None
        return route, [segments[i] for i in params]
