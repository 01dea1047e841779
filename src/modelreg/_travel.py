"""Time travel: a model's versions and aliases as they stood at a moment, replayed from its events.

Only four kinds of event move versions and aliases (``TRAVEL_KINDS``), and the
replay needs nothing but their kind, version and alias, so no metadata is
decoded. The rules are those of ``_transitions`` restricted to versions and
aliases: a registration adds a version unless one of equal precedence is held;
an unregistration removes it and the aliases pointing at it; an alias is set
only onto a held version; a removal drops it. Every backend answers ``at=``
with ``replay`` over the events it reads, so all of them agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from .errors import QueryError
from .semver import SemVer, parse_version

__all__ = ["TRAVEL_KINDS", "PastModel", "Step", "aware_at", "check_at", "past_model", "replay"]

TRAVEL_KINDS: tuple[str, ...] = ("alias_removed", "alias_set", "registered", "unregistered")
"""The event kinds that change what ``get_versions``, ``get_aliases`` and ``resolve`` answer."""

Step = tuple[str, str | None, str | None]
"""One event as the replay reads it: (kind, version, alias)."""


@dataclass(frozen=True, slots=True)
class PastModel:
    """A model's versions (ascending precedence) and aliases at a past moment: what ``resolve`` reads."""

    ordered: tuple[str, ...]
    parsed: tuple[SemVer, ...]
    aliases: Mapping[str, str]


def check_at(at: object) -> datetime:
    """``at`` as an aware UTC datetime; TypeError if it is not a datetime, QueryError if naive or in the future."""
    moment = aware_at(at)
    now = datetime.now(UTC)
    if moment > now:
        raise QueryError(
            f"at={moment.isoformat()} is in the future (it is now {now.isoformat(timespec='seconds')}); "
            "time travel answers only for the past and the present"
        )
    return moment


def aware_at(at: object) -> datetime:
    """``at`` as an aware UTC datetime; TypeError if it is not a datetime, QueryError if it is naive."""
    if not isinstance(at, datetime):
        raise TypeError(f"at must be a datetime or None, not {type(at).__name__}")
    if at.tzinfo is None or at.utcoffset() is None:
        # As for training_date: Python takes a naive datetime as local time, and guessing would shift it.
        raise QueryError(
            f"at={at.isoformat()} has no time zone; pass an aware datetime, "
            "e.g. datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)"
        )
    try:
        moment = at.astimezone(UTC)
    except OverflowError:
        raise QueryError(f"at={at.isoformat()} is outside the range of dates in UTC") from None
    return moment


def replay(steps: Iterable[Step]) -> tuple[dict[str, str], dict[str, str]]:
    """The (identity -> canonical version, alias -> canonical version) that ``steps`` (oldest first) leave."""
    held: dict[str, str] = {}
    aliases: dict[str, str] = {}
    for kind, version, alias in steps:
        if version is None:
            continue
        if kind == "registered":
            held.setdefault(version.partition("+")[0], version)  # an equal-precedence duplicate was refused
        elif kind == "unregistered":
            if held.get(version.partition("+")[0]) == version:
                del held[version.partition("+")[0]]
                aliases = {a: v for a, v in aliases.items() if v != version}
        elif kind == "alias_set":
            if alias is not None and held.get(version.partition("+")[0]) == version:
                aliases[alias] = version
        elif kind == "alias_removed" and alias is not None:
            aliases.pop(alias, None)
    return held, aliases


def past_model(steps: Iterable[Step]) -> PastModel:
    """The model that ``steps`` leave, with its versions in ascending precedence."""
    held, aliases = replay(steps)
    pairs = sorted((parse_version(text), text) for text in held.values())
    return PastModel(tuple(text for _, text in pairs), tuple(parsed for parsed, _ in pairs), aliases)
