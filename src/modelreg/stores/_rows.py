"""The stores' row codec: metadata as stored JSON, event rows, and a snapshot built from table rows.

Shared by SQLite and PostgreSQL, which store the same rows in the same shape.
"""

from __future__ import annotations

import json
import operator
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .._frozen import frozen_dict
from .._history import HistoryFilter
from .._model import ModelState, Stamp, stamp
from .._state import NO_TAGS, RegistryState
from .._transitions import Change
from ..errors import StoreError
from ..events import DETAIL_KINDS, EVENT_SHAPES, RegistryEvent, freeze_detail
from ..metadata import ModelMetadata
from ..semver import parse_version
from ._policy_rows import PolicyRow, decode_policies, decode_promotions

__all__ = [
    "ALIAS_ROWS",
    "EventRow",
    "ModelRow",
    "VersionRow",
    "decode_metadata",
    "encode_detail",
    "encode_metadata",
    "history_condition",
    "state_from_rows",
]


def history_condition(
    name: str, chosen: HistoryFilter, mark: str, version: str = "version", until: object | None = None
) -> tuple[str, list[object]]:
    """The ``WHERE`` text and parameters for a model's events that ``chosen`` passes, in both stores' SQL.

    ``mark`` is the driver's placeholder; ``version`` the column as compared bytewise (PostgreSQL
    needs ``COLLATE "C"`` for that); ``until``, if given, the latest ``at`` to include, in the store's
    own form of a time (time travel). The ``events_by_name`` index finds the model's rows; the rest
    is checked in the database, so only the rows returned are decoded.
    """
    clauses = [f"name = {mark}"]
    params: list[object] = [name]
    if chosen.identity is not None:
        low, high = chosen.version_range()
        clauses.append(f"{version} >= {mark} AND {version} < {mark}")
        params += [low, high]
    if chosen.kinds is not None:
        kinds = sorted(chosen.kinds)
        clauses.append(f"kind IN ({', '.join([mark] * len(kinds))})")
        params += kinds
    if until is not None:
        clauses.append(f"at <= {mark}")
        params.append(until)
    return " AND ".join(clauses), params


# (name, version, metadata JSON, registered_at, registered_by) and
# (name, description, tags JSON, created_at, updated_at), as both stores read them at open.
VersionRow = tuple[str, str, str, datetime, str | None]
ModelRow = tuple[str, str, str, datetime | None, datetime | None]

# (model name, alias, canonical version) of every alias; the same SQL in both stores.
ALIAS_ROWS = (
    "SELECT m.name, a.alias, v.version FROM aliases a JOIN models m ON m.id = a.model_id "
    "JOIN versions v ON v.model_id = a.model_id AND v.identity = a.identity"
)


def encode_metadata(metadata: ModelMetadata) -> str:
    """The JSON text stored for a version (and in its ``registered`` event)."""
    return metadata.to_json()


def encode_detail(detail: Mapping[str, Any]) -> str:
    """The JSON text stored as an annotation event's payload: what it changed."""
    return json.dumps(detail, separators=(",", ":"), allow_nan=False)


def decode_metadata(text: str, *, row: str) -> ModelMetadata:
    """Inverse of ``encode_metadata``; StoreError naming ``row`` when the text is not what we stored.

    Not re-validated (opening 100,000 versions would spend most of its time there),
    but a row edited by hand or damaged must fail clearly, never with a raw KeyError.
    """
    try:
        metadata = ModelMetadata._from_stored(json.loads(text))
        if not isinstance(metadata.version, str):
            raise TypeError(f"its version is {metadata.version!r}, not a string")
    # RecursionError: json and the freezing recurse, and only damage nests that deep;
    # OverflowError: an integer metric too large for a float.
    except (ValueError, LookupError, TypeError, AttributeError, RecursionError, OverflowError) as exc:
        raise StoreError(
            f"stored metadata of {row} is unreadable ({type(exc).__name__}: {exc}); "
            "the row was changed outside modelreg or is damaged"
        ) from exc
    return metadata


@dataclass(frozen=True, slots=True)
class EventRow:
    """One row of the events table, as the stores read and write it."""

    revision: int
    kind: str
    name: str
    version: str | None
    alias: str | None
    actor: str | None
    at: datetime
    payload: str | None  # metadata JSON for 'registered' events, what changed for the annotation kinds

    def event(self) -> RegistryEvent:
        """The public event for this row."""
        return RegistryEvent(
            kind=self.kind,  # type: ignore[arg-type]
            name=self.name,
            version=self.version,
            alias=self.alias,
            revision=self.revision,
            at=self.at,
            actor=self.actor,
            detail=freeze_detail(self._detail()) if self.kind in DETAIL_KINDS else None,
        )

    def _detail(self, row: str = "") -> dict[str, Any]:
        try:
            detail = json.loads(self.payload or "")
            if not isinstance(detail, dict):
                raise TypeError(f"it is a {type(detail).__name__}, not an object")
        except (ValueError, TypeError) as exc:
            row = row or f"event {self.revision} ({self.kind} {self.name} {self.version})"
            raise StoreError(
                f"the detail of {row} is unreadable ({exc}); the row was changed outside modelreg"
            ) from exc
        return detail

    def change(self, where: str) -> Change:
        """The change this row records (with its time and actor), ready to apply; StoreError if it is malformed."""
        row = f"event {self.revision} ({self.kind} {self.name} {self.version}) in {where}"
        shape = EVENT_SHAPES.get(self.kind)
        missing = (
            shape is None
            or (shape.version == "required" and self.version is None)
            or (shape.version == "none" and self.version is not None)
            or shape.alias != (self.alias is not None)
            or (shape.detail or self.kind == "registered") != (self.payload is not None)
        )
        if missing:
            raise StoreError(f"{row} is malformed: its kind, version, alias or payload is missing or out of place")
        if self.kind in DETAIL_KINDS:
            change = Change(self.kind, self.name, self.version, self.alias, None, self._detail(row))  # type: ignore[arg-type]
        else:
            metadata = decode_metadata(self.payload, row=row) if self.payload is not None else None
            change = Change(self.kind, self.name, self.version, self.alias, metadata)  # type: ignore[arg-type]
        return change.stamped(self.at, self.actor)


def state_from_rows(
    versions: Iterable[VersionRow],
    aliases: Iterable[tuple[str, str, str]],
    models: Iterable[ModelRow],
    revision: int,
    where: str,
    policies: Iterable[PolicyRow] = (),
    promotions: Iterable[tuple[str]] = (),
) -> RegistryState:
    """A snapshot built from table rows: versions, (model name, alias, version), the model records,
    the alias policies and the promotion requests (``_policy_rows``).

    ``versions`` may be a cursor: each row is taken as it comes, its metadata kept as the stored
    JSON text (``ModelMetadata._stored``: decoded on first read) once its shape is checked, and
    each model built once from its rows (docs/scale.md).
    """
    targets: dict[str, dict[str, str]] = {}
    for name, alias, version in aliases:
        targets.setdefault(name, {})[alias] = version
    records = {row[0]: row for row in models}
    built: dict[str, ModelState] = {}
    loading: _Loading | None = None
    intern = sys.intern
    for name, version, text, at, by in versions:
        if loading is None or loading.name != name:
            # The stores send each model's rows together, so only one model is half-built at a time.
            if loading is not None:
                built[loading.name] = loading.model(targets, records, where)
            loading = _Loading(name, built.pop(name, None))
        version = intern(version)  # the same text in many models: one string
        loading.versions[version] = _stored_metadata(version, text, f"{name} {version} in {where}")
        loading.stamps[version] = stamp(at, by)
    if loading is not None:
        built[loading.name] = loading.model(targets, records, where)
    return RegistryState(
        built, revision, tuple(sorted(built)), decode_policies(policies, where), decode_promotions(promotions, where)
    )


_KEY = operator.attrgetter("_key")  # a SemVer's precedence key


class _Loading:
    """One model's rows as they arrive, before its state is built (from ``was``, if rows came apart)."""

    __slots__ = ("name", "stamps", "versions")

    def __init__(self, name: str, was: ModelState | None) -> None:
        self.name = name
        self.versions: dict[str, ModelMetadata] = {} if was is None else dict(was.versions)
        self.stamps: dict[str, Stamp] = {}
        if was is not None:
            self.stamps.update((text, when) for text, _, when in was.each())

    def model(self, targets: dict[str, dict[str, str]], records: dict[str, ModelRow], where: str) -> ModelState:
        name, stamps, versions = self.name, self.stamps, self.versions
        texts = list(versions)
        found = list(map(parse_version, texts))
        order = sorted(range(len(texts)), key=list(map(_KEY, found)).__getitem__)  # C-level maps, no lambda
        ordered = tuple(map(texts.__getitem__, order))
        parsed = tuple(map(found.__getitem__, order))
        description, tags, created, updated = "", NO_TAGS, None, None
        row = records.get(name)
        if row is not None:
            _, description, text, created, updated = row
            try:
                tags = frozen_dict(json.loads(text))
            except (ValueError, TypeError) as exc:
                raise StoreError(f"the tags of model {name} in {where} are unreadable ({exc})") from exc
        if created is None or updated is None:  # no model row (only an old or hand-made store): from the versions
            times = [_unstamped(when) for when in stamps.values()]
            created, updated = created or min(times), updated or max(times)
        builds = {p.identity: t for p, t in zip(parsed, ordered, strict=True) if p.build}
        return ModelState.built(
            name, dict(zip(ordered, map(versions.__getitem__, ordered), strict=True)), ordered, parsed,
            tuple(map(stamps.__getitem__, ordered)), builds, targets.get(name, {}), description, tags, created, updated,
        )


def _unstamped(value: Stamp) -> datetime:
    return value if isinstance(value, datetime) else value[0]


# What ``to_json`` writes, checked at open without decoding it: the version and a UTC training date
# first, then (after the hyperparameters, decoded on first read) metrics, artifact path, description
# and tags. Whatever passes is text the eager decode would take as it is; anything else is decoded now,
# so it is refused (or accepted) exactly as before. Strings: no raw control character, only JSON's own
# escapes (unrolled loop). Numbers: at most 17 integer and 24 fraction digits and a two-digit exponent
# (``repr`` of 1e-99 < |x| < 1e100), so none decodes to inf or underflows to 0. Keys: no escape at all
# (one could decode to another key) and distinct: the second differs from the first (a lookahead), and
# a third entry or more (``m3``, ``t3``) is checked by ``_distinct``.
_STRING = r'[^"\\\x00-\x1f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*)*'
_PLAIN_KEY = r'[^"\\\x00-\x1f]*'
_NUMBER = r"-?(?:0|[1-9][0-9]{0,16})(?:\.[0-9]{1,24})?(?:e[-+][0-9]{2})?"
# After the version: isoformat() of a date in UTC, every part in range. February 29th is left to the decoder
# (a leap year or not), as is any other spelling of a date.
_MONTH_DAY = r"(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
_DATE = re.compile(
    rf"(?!0000)[0-9]{{4}}-{_MONTH_DAY}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{{6}})?"
    r'\+00:00","hyperparameters":\{'
).match
_METRICS_KEY = ',"performance_metrics":{'
_METRIC = rf'"{_PLAIN_KEY}":{_NUMBER}'
_TAG = rf'"{_PLAIN_KEY}":"{_STRING}"'
_TAIL = re.compile(
    rf',"performance_metrics":\{{(?P<metrics>"(?P<m1>{_PLAIN_KEY})":{_NUMBER}'
    rf'(?:,(?!"(?P=m1)"){_METRIC}(?P<m3>(?:,{_METRIC})+)?)?)?\}},'
    rf'"artifact_path":"{_STRING}","description":"{_STRING}",'
    rf'"tags":\{{(?P<tags>"(?P<t1>{_PLAIN_KEY})":"{_STRING}"(?:,(?!"(?P=t1)"){_TAG}(?P<t3>(?:,{_TAG})+)?)?)?\}}\}}'
)


# Each entry matched whole, left to right from the first key, so a value is never taken for a key.
_METRIC_KEYS = re.compile(rf'"({_PLAIN_KEY})":{_NUMBER}').findall
_TAG_KEYS = re.compile(rf'"({_PLAIN_KEY})":"{_STRING}"').findall


def _distinct(body: str | None, keys: Callable[[str], list[str]]) -> bool:
    """Whether the entries of ``body`` (a metrics or tags object's inside, keys without escapes) have distinct keys."""
    found = keys(body or "")
    return len(set(found)) == len(found)


def _stored_metadata(version: str, text: str, row: str) -> ModelMetadata:
    """The row's metadata kept as its text, decoded on first read, when the text is in the shape
    ``to_json`` writes; else decoded now (StoreError naming ``row`` if it cannot be: changed outside
    modelreg, or damaged)."""
    head = f'{{"version":"{version}","training_date":"'
    # The date as the decoder would parse it (month 13 is decoded, so refused, now and not at a read).
    ok = isinstance(text, str) and text.startswith(head) and _DATE(text, len(head)) is not None
    # The last occurrence: one inside the hyperparameters would be a nested key, and after it come
    # only metrics, paths and tags, whose strings cannot hold an unescaped quote.
    tail = text.rfind(_METRICS_KEY) if ok else -1
    shape = _TAIL.fullmatch(text, tail) if tail >= 0 else None
    if shape is None or (shape.group("m3", "t3") != (None, None) and not (
        _distinct(shape["metrics"], _METRIC_KEYS) and _distinct(shape["tags"], _TAG_KEYS)
    )):
        meta = decode_metadata(text, row=row)  # JSON of another layout, or the precise reason it is unreadable
        if meta.version != version:
            raise StoreError(f"stored metadata of {row} is unreadable (it holds version {meta.version!r}); "
                             "the row was changed outside modelreg or is damaged")
        return meta
    return ModelMetadata._stored(version, text)
