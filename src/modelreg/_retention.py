"""Retention: which versions ``prune`` removes, decided and carried out over the ``ModelRegistry`` interface.

One algorithm for every backend and the HTTP client: read every version once through
``search`` (its records carry ``registered_at`` and the aliases), choose per model what
lies beyond the newest ``keep_latest`` by precedence (prereleases count like any other
version), and remove each with an ordinary ``unregister_model`` (no ``force``), so every
removal is one ``unregistered`` event with the caller's actor. A version removed or
aliased by someone else meanwhile is skipped, not an error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from ._search import MAX_LIMIT
from .errors import VersionInUseError, VersionNotFoundError
from .names import validate_name
from .policies import PromotionRequest
from .records import VersionRecord
from .registry import ModelRegistry
from .semver import parse_version

__all__ = ["GONE", "IN_USE", "REMOVED", "Selection", "apply", "check_args", "choose", "prune", "select"]

REMOVED: Final = "removed"
GONE: Final = "gone"  # removed by someone else between the reading and the removal
IN_USE: Final = "aliased"  # an alias was pointed at it meanwhile (unregister_model refused)

Pair = tuple[str, str]
OnEach = Callable[[str, str, str], None]
"""Told ``(name, version, outcome)`` after each attempted removal: REMOVED, GONE or IN_USE."""

_log = logging.getLogger("modelreg.retention")


@dataclass(frozen=True, slots=True)
class Selection:
    """What one reading of the registry chose: the versions to remove, and how many each model had."""

    chosen: tuple[VersionRecord, ...]  # by model name, then ascending precedence
    counts: dict[str, int]  # every model read -> its number of versions at the reading

    @property
    def pairs(self) -> list[Pair]:
        """The chosen versions as ``(name, version)`` pairs, in order."""
        return [(record.name, record.version) for record in self.chosen]


def check_args(name: object, keep_latest: object, older_than: object, dry_run: object = True) -> None:
    """Refuse arguments ``prune`` cannot use, naming what was wrong and what would be right; changes nothing."""
    if name is not None:
        validate_name(name)  # a non-str is a TypeError
    if isinstance(keep_latest, bool) or not isinstance(keep_latest, int):
        raise TypeError(f"keep_latest must be an int (how many of each model's newest versions to keep), "
                        f"not {type(keep_latest).__name__}")
    if keep_latest < 0:
        raise ValueError(f"keep_latest must be 0 or more (how many newest versions to keep), not {keep_latest}")
    if not isinstance(dry_run, bool):
        raise TypeError(f"dry_run must be a bool, not {type(dry_run).__name__}")
    if older_than is None:
        return
    if not isinstance(older_than, datetime):
        raise TypeError(f"older_than must be an aware datetime or None, not {type(older_than).__name__}")
    if older_than.utcoffset() is None:
        raise ValueError(f"older_than {older_than.isoformat()} has no time zone; give an aware datetime, "
                         "e.g. datetime(2026, 1, 5, tzinfo=timezone.utc)")
    now = datetime.now(UTC)
    if older_than > now:
        raise ValueError(f"older_than {older_than.isoformat()} is in the future (now is {now.isoformat()}), "
                         "so it would limit nothing: give a time in the past")


def _records(registry: ModelRegistry, name: str | None) -> Iterator[VersionRecord]:
    """Every version (of ``name``, or of every model), page by page through ``search``."""
    cursor: str | None = None
    while True:
        page = registry.search("", name=name, limit=MAX_LIMIT, cursor=cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _protected(record: VersionRecord, promoted: frozenset[tuple[str, str]]) -> bool:
    """Whether ``prune`` must keep ``record`` whatever its age and place: an alias points at it,
    or a pending promotion request would (``promoted``: their (name, version) pairs)."""
    return bool(record.aliases) or (record.name, record.version) in promoted


def select(
    registry: ModelRegistry, name: str | None = None, *, keep_latest: int = 10, older_than: datetime | None = None
) -> Selection:
    """The versions ``prune`` would remove now (arguments checked first): beyond each model's newest
    ``keep_latest`` by precedence, registered before ``older_than`` if given, and not protected."""
    check_args(name, keep_latest, older_than)
    records = list(_records(registry, name))
    pending = registry.list_promotions(name, state="pending") if records or name is None else []
    return choose(records, pending, name, keep_latest=keep_latest, older_than=older_than)


def choose(
    records: Iterable[VersionRecord], pending: Iterable[PromotionRequest], name: str | None = None, *,
    keep_latest: int = 10, older_than: datetime | None = None,
) -> Selection:
    """``select``'s choice among ``records`` already read (every version of ``name``, or of every model),
    given the ``pending`` promotion requests; for a caller that reads them its own way (the async client)."""
    by_model: dict[str, list[VersionRecord]] = {}
    for record in records:
        by_model.setdefault(record.name, []).append(record)
    if name is not None and not by_model:
        raise VersionNotFoundError(f"model {name!r} has no versions, so there is nothing to prune", name=name)
    promoted = frozenset((r.name, r.version) for r in pending if r.version is not None)
    chosen: list[VersionRecord] = []
    for model in sorted(by_model):
        ordered = sorted(by_model[model], key=lambda r: parse_version(r.version))
        beyond = ordered[: max(len(ordered) - keep_latest, 0)]
        chosen += [
            r for r in beyond
            if (older_than is None or r.registered_at < older_than) and not _protected(r, promoted)
        ]
    return Selection(tuple(chosen), {model: len(records) for model, records in sorted(by_model.items())})


def apply(registry: ModelRegistry, pairs: list[Pair], on_each: OnEach | None = None) -> list[Pair]:
    """Remove each version with ``unregister_model``; return those removed (skipped ones are logged and told)."""
    removed: list[Pair] = []
    for name, version in pairs:
        try:
            registry.unregister_model(name, version)
        except VersionNotFoundError:
            outcome = GONE
        except VersionInUseError:
            outcome = IN_USE
        else:
            outcome = REMOVED
            removed.append((name, version))
        if outcome != REMOVED:
            _log.info("prune skipped %s %s: %s meanwhile", name, version, outcome)
        if on_each is not None:
            on_each(name, version, outcome)
    return removed


def prune(
    registry: ModelRegistry,
    name: str | None = None,
    *,
    keep_latest: int = 10,
    older_than: datetime | None = None,
    dry_run: bool = True,
) -> list[Pair]:
    """``ModelRegistry.prune`` for any registry: the pairs that would go (dry run) or that went."""
    check_args(name, keep_latest, older_than, dry_run)
    pairs = select(registry, name, keep_latest=keep_latest, older_than=older_than).pairs
    return pairs if dry_run else apply(registry, pairs)
