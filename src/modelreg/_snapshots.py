"""The snapshot wire format: a ``RegistryState`` as newline-delimited JSON, and back (docs/mirror.md).

The server's ``GET /api/v1/snapshot`` writes it, ``RegistryMirror`` reads it and
keeps its ``cache_path=`` file in it. A full copy is a header line (``snapshot``:
the store, the revision, the model patterns), one ``v`` line per version, one
``m`` line per model (record and aliases), ``p`` lines (policies), ``r`` lines
(promotion requests) and an ``end`` line counting the versions and models, so a
cut-off copy is refused rather than taken for a smaller registry. A delta is a
header (``delta``), one ``e`` line per event (with the metadata of a registration
whose version is still held) and an ``end`` line counting them. Standard library only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from ._frozen import frozen_dict
from ._model import unstamp
from ._state import RegistryState
from ._transitions import Change, advance
from .events import RegistryEvent
from .metadata import ModelMetadata
from .policies import AliasPolicy, PromotionRequest

__all__ = ["SnapshotFormatError", "decode_delta", "decode_snapshot", "delta_lines", "snapshot_lines"]

Seen = Callable[[str], bool]
MetadataJSON = Callable[[ModelMetadata], bytes]


class SnapshotFormatError(ValueError):
    """Text that is not a whole snapshot or delta in this format (cut off, or from something else)."""


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _line(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode() + b"\n"


def _metadata_json(meta: ModelMetadata) -> bytes:
    return meta.to_json().encode()


def snapshot_lines(state: RegistryState, store: str, patterns: tuple[str, ...] | None,
                   seen: Seen = lambda name: True, metadata_json: MetadataJSON = _metadata_json) -> Iterator[bytes]:
    """``state`` (only the models ``seen`` accepts) as the lines of a full copy."""
    names = [name for name in state.names if seen(name)]
    yield _line({"snapshot": 1, "store": store, "revision": state.revision,
                 "models": None if patterns is None else list(patterns)})
    count = 0
    for name in names:
        model = state.models[name]
        prefix = b'{"v":[' + json.dumps(name).encode() + b","
        for version, meta, when in model.each():  # no records built: a million of them would stay cached
            at, by = unstamp(when)
            tail = _line([at.isoformat(), by])[1:-2]  # '"at",by'
            yield prefix + json.dumps(version).encode() + b"," + metadata_json(meta) + b"," + tail + b"]}\n"
            count += 1
        yield _line({"m": [name, model.description, dict(model.tags), _iso(model.created_at),
                           _iso(model.updated_at), dict(model.aliases)]})
    for (name, alias), policy in sorted(state.policies.items()):
        if seen(name):
            yield _line({"p": [name, alias, policy.to_dict()]})
    for number in sorted(state.promotions):
        request = state.promotions[number]
        if seen(request.name):
            yield _line({"r": request.to_dict()})
    yield _line({"end": {"versions": count, "models": len(names)}})


def delta_lines(state: RegistryState, store: str, after: int, events: Iterable[RegistryEvent],
                metadata_json: MetadataJSON = _metadata_json) -> Iterator[bytes]:
    """The ``events`` in ``(after, state.revision]`` as the lines of a delta, registrations with their metadata."""
    yield _line({"delta": 1, "store": store, "revision": state.revision, "after": after})
    count = 0
    for event in events:
        line = b'{"e":' + _line(event.to_dict())[:-1]
        if event.kind == "registered" and event.version is not None:
            meta = state.model(event.name).versions.get(event.version)
            if meta is not None:  # else it is unregistered by ``revision``, and a later event here says so
                line += b',"metadata":' + metadata_json(meta)
        yield line + b"}\n"
        count += 1
    yield _line({"end": {"events": count}})


def _header(lines: Iterator[bytes], kind: str) -> dict[str, Any]:
    first = next(lines, None)
    header = _parse(first) if first is not None else None
    if not isinstance(header, dict) or header.get(kind) != 1 or not isinstance(header.get("store"), str) \
            or type(header.get("revision")) is not int:
        raise SnapshotFormatError(f"it does not start with a {kind} header line")
    return header


def _parse(line: bytes) -> Any:
    try:
        return json.loads(line)
    except ValueError as exc:
        raise SnapshotFormatError(f"a line is not JSON ({exc})") from None


def _items(lines: Iterator[bytes], batch: int = 512) -> Iterator[Any]:
    """The JSON value of each line, parsed ``batch`` lines at a time (one ``json.loads`` per line cost ~40%)."""
    pending: list[bytes] = []
    for line in lines:
        if line:
            pending.append(line)
        if len(pending) >= batch:
            yield from _parse(b"[" + b",".join(pending) + b"]")
            pending = []
    if pending:
        yield from _parse(b"[" + b",".join(pending) + b"]")


def decode_snapshot(lines: Iterable[bytes]) -> tuple[str, tuple[str, ...] | None, RegistryState]:
    """(store id, model patterns, state) from the lines of a full copy; SnapshotFormatError if it is not whole."""
    stream = iter(lines)
    header = _header(stream, "snapshot")
    revision: int = header["revision"]
    steps: list[tuple[Change, int]] = []
    records: list[list[Any]] = []
    policies: dict[tuple[str, str], AliasPolicy] = {}
    promotions: dict[int, PromotionRequest] = {}
    end: Any = None
    try:
        for item in _items(stream):
            if "v" in item:
                name, version, meta, at, by = item["v"]
                metadata = ModelMetadata._from_stored(meta)
                change = Change("registered", name, version, None, metadata, None, datetime.fromisoformat(at), by)
                steps.append((change, revision))
            elif "m" in item:
                records.append(item["m"])
            elif "p" in item:
                name, alias, policy = item["p"]
                policies[(name, alias)] = AliasPolicy.from_dict(policy)
            elif "r" in item:
                request = PromotionRequest.from_dict(item["r"])
                promotions[request.id] = request
            elif "end" in item:
                end = item["end"]
                break
    except (KeyError, TypeError, ValueError) as exc:
        raise SnapshotFormatError(f"a line is malformed ({type(exc).__name__}: {exc})") from None
    if not isinstance(end, dict) or end.get("versions") != len(steps) or end.get("models") != len(records):
        raise SnapshotFormatError(f"it is cut off: {len(steps)} versions and {len(records)} models came "
                                  f"before it ended, and no end line counting them")
    steps += [(Change("alias_set", m[0], version, alias), revision) for m in records for alias, version in m[5].items()]
    state = advance(RegistryState(revision=revision), steps)
    models = dict(state.models)
    for name, description, tags, created, updated, _ in records:
        model = models.get(name)
        if model is not None:
            models[name] = model.replaced(
                description=description, tags=frozen_dict(tags),
                created_at=datetime.fromisoformat(created) if created else model.created_at,
                updated_at=datetime.fromisoformat(updated) if updated else model.updated_at,
            )
    patterns = header.get("models")
    chosen = None if patterns is None else tuple(str(p) for p in patterns)
    return header["store"], chosen, RegistryState(models, revision, state.names, policies, promotions)


def decode_delta(lines: Iterable[bytes]) -> tuple[str, int, int, list[tuple[RegistryEvent, Change]]]:
    """(store id, after, revision, [(event, change to apply)]) from the lines of a delta."""
    stream = iter(lines)
    header = _header(stream, "delta")
    found: list[tuple[RegistryEvent, Change]] = []
    end: Any = None
    try:
        for raw in stream:
            item = _parse(raw)
            if "end" in item:
                end = item["end"]
                break
            event = RegistryEvent.from_dict(item["e"])
            meta = item.get("metadata")
            metadata = ModelMetadata._from_stored(meta) if meta is not None else None
            found.append((event, change_of(event, metadata)))
    except (KeyError, TypeError, ValueError) as exc:
        raise SnapshotFormatError(f"a line is malformed ({type(exc).__name__}: {exc})") from None
    if not isinstance(end, dict) or end.get("events") != len(found):
        raise SnapshotFormatError(f"it is cut off after {len(found)} events, with no end line counting them")
    return header["store"], int(header["after"]), header["revision"], found


def change_of(event: RegistryEvent, metadata: ModelMetadata | None = None) -> Change:
    """The change ``event`` records, ready for ``advance`` (a registration needs its ``metadata``)."""
    detail = None if event.detail is None else dict(event.detail)
    return Change(event.kind, event.name, event.version, event.alias, metadata, detail, event.at, event.actor)
