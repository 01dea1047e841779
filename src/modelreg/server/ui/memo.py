"""``RevisionMemo``: values a page derives from the registry, kept while the registry's revision stays the same.

One per app (``WebUI``), handed to every ``Page``. A registry without an event log has no
revision to check, so nothing is kept for it and every request derives its values anew.
"""

from __future__ import annotations

from collections.abc import Hashable

from ...registry import EventLog

__all__ = ["RevisionMemo"]


class RevisionMemo:
    """A bounded map of derived values, each valid for the registry revision it was made at."""

    __slots__ = ("_entries", "_log")
    LIMIT = 64
    """Entries held at most; when full it is cleared and the next requests derive again what they need."""

    def __init__(self, log: EventLog | None) -> None:
        self._log = log
        self._entries: dict[Hashable, tuple[int, object]] = {}

    def revision(self) -> int | None:
        """The registry's revision now (None: it keeps no event log, so nothing is remembered)."""
        return None if self._log is None else self._log.revision

    def recall(self, key: Hashable, revision: int | None) -> object | None:
        """The value kept under ``key`` at ``revision``, or None."""
        hit = self._entries.get(key)
        return hit[1] if revision is not None and hit is not None and hit[0] == revision else None

    def keep(self, key: Hashable, revision: int | None, value: object) -> None:
        """Keep ``value`` under ``key`` for ``revision`` (read before the value was derived, so never too new)."""
        if revision is None:
            return
        if len(self._entries) >= self.LIMIT:
            self._entries.clear()
        self._entries[key] = (revision, value)
