"""ModelMetadata: the validated, immutable record stored with each version."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Union

from ._dates import TIMESTAMP_EXAMPLE, parse_timestamp
from ._frozen import frozen_dict, frozen_list
from ._json import loads_strict
from .errors import MetadataError, StoreError

__all__ = ["LIMITS", "JSONValue", "ModelMetadata", "validate_record"]

JSONValue = Union[str, int, float, bool, None, Sequence["JSONValue"], Mapping[str, "JSONValue"]]  # noqa: UP007

#: Bounds on every field, so no request can store an unbounded amount.
LIMITS: Mapping[str, int] = MappingProxyType(
    {
        "artifact_path_chars": 4096,
        "description_chars": 10_000,
        "tags": 100,
        "tag_key_chars": 128,
        "tag_value_chars": 1024,
        "metrics": 1000,
        "metric_name_chars": 128,
        "hyperparameters_json_bytes": 65_536,
        "hyperparameters_depth": 32,
    }
)
_FIELDS = (
    "version",
    "training_date",
    "hyperparameters",
    "performance_metrics",
    "artifact_path",
    "description",
    "tags",
)
_EMPTY: Mapping[str, Any] = frozen_dict()
_ZERO = timedelta(0)


def _fail(message: str) -> MetadataError:
    return MetadataError(f"invalid metadata: {message}")


def _check_text(where: str, value: object, *, limit: int, allow_empty: bool = True) -> str:
    """A string we can store and give back exactly: UTF-8 encodable, no NUL, bounded."""
    if not isinstance(value, str):
        raise _fail(f"{where} must be a string, not {type(value).__name__}")
    if not value and not allow_empty:
        raise _fail(f"{where} must not be empty")
    if len(value) > limit:
        raise _fail(f"{where} is {len(value)} characters; the limit is {limit}")
    if "\x00" in value:
        raise _fail(f"{where} contains a NUL character, which cannot be stored")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _fail(f"{where} contains a lone surrogate and is not valid Unicode text") from None
    return value


def _freeze_json(value: object, where: str, depth: int) -> JSONValue:
    """Validate a JSON value and return a read-only copy (FrozenDict and FrozenList, equal to dicts and lists)."""
    if depth > LIMITS["hyperparameters_depth"]:
        raise _fail(f"{where} nests deeper than {LIMITS['hyperparameters_depth']} levels")
    if value is None or isinstance(value, (bool, str)):
        if isinstance(value, str):
            _check_text(where, value, limit=LIMITS["hyperparameters_json_bytes"])
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _fail(f"{where} is {value!r}; only finite numbers are JSON-representable")
        return float(value)
    if isinstance(value, Mapping):
        frozen: dict[str, JSONValue] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _fail(f"{where} has a key {key!r} of type {type(key).__name__}; keys must be strings")
            _check_text(f"{where} key", key, limit=LIMITS["tag_key_chars"] * 2)
            frozen[key] = _freeze_json(item, f"{where}.{key}", depth + 1)
        return frozen_dict(frozen)
    if isinstance(value, (list, tuple)):  # a tuple comes back as a list, as it would through JSON
        return frozen_list([_freeze_json(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value)])
    raise _fail(
        f"{where} is a {type(value).__name__}; expected str, int, float, bool, None, list or dict"
    )


def _freeze_trusted(value: Any) -> Any:
    # Recursing only into containers saves a call per number and string: opening a store decodes every version.
    if isinstance(value, dict):
        return frozen_dict(
            {key: _freeze_trusted(item) if isinstance(item, (dict, list)) else item for key, item in value.items()}
        )
    if isinstance(value, list):
        return frozen_list([_freeze_trusted(item) if isinstance(item, (dict, list)) else item for item in value])
    return value


def _thaw_json(value: JSONValue) -> Any:
    """A plain, mutable deep copy (``to_dict``'s callers may change what they get)."""
    if isinstance(value, Mapping):
        return {key: _thaw_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_thaw_json(item) for item in value]
    return value


def _metrics(value: object) -> Mapping[str, float]:
    if not isinstance(value, Mapping):
        raise _fail(f"performance_metrics must be a mapping of name to number, not {type(value).__name__}")
    if len(value) > LIMITS["metrics"]:
        raise _fail(f"performance_metrics has {len(value)} entries; the limit is {LIMITS['metrics']}")
    out: dict[str, float] = {}
    for key, number in value.items():
        name = _check_text("performance_metrics key", key, limit=LIMITS["metric_name_chars"], allow_empty=False)
        where = f"performance_metrics[{name!r}]"
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise _fail(f"{where} is {type(number).__name__}; metrics must be numbers (int or float)")
        try:
            as_float = float(number)
        except OverflowError:
            as_float = math.inf
        if not math.isfinite(as_float):
            raise _fail(f"{where} is {number!r}; metrics must be finite numbers")
        if isinstance(number, int) and int(as_float) != number:
            raise _fail(f"{where} = {number} cannot be stored exactly as a float")
        out[name] = as_float
    return frozen_dict(out)


def _tags(value: object) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        raise _fail(f"tags must be a mapping of str to str, not {type(value).__name__}")
    if len(value) > LIMITS["tags"]:
        raise _fail(f"tags has {len(value)} entries; the limit is {LIMITS['tags']}")
    return frozen_dict(
        {
            _check_text("tag key", k, limit=LIMITS["tag_key_chars"], allow_empty=False): _check_text(
                f"tags[{k!r}]", v, limit=LIMITS["tag_value_chars"]
            )
            for k, v in value.items()
        }
    )


def _training_date(value: object) -> datetime:
    if not isinstance(value, datetime):
        raise _fail(f"training_date must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        # Python takes a naive datetime as local time; guessing UTC would silently shift it.
        raise _fail(
            f"training_date {value.isoformat()} has no time zone; pass an aware datetime, "
            "e.g. datetime(2026, 1, 5, tzinfo=timezone.utc)"
        )
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise _fail(f"training_date {value.isoformat()} is outside the range of dates in UTC") from None


class _Pending:
    """The slot a ``ModelMetadata`` keeps its stored JSON text in until a field is first read (``_stored``).

    Not a dataclass field, so equality, hashing, ``repr``, ``asdict`` and pickling only see the fields.
    None once decoded, and in every instance built from fields.
    """

    __slots__ = ("_text",)
    _text: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class ModelMetadata(_Pending):
    """What the registry stores with a version; validated on construction, read-only after.

    ``version`` is optional on input and filled in (canonical) by the registry.
    """

    training_date: datetime
    artifact_path: str
    hyperparameters: Mapping[str, JSONValue] = field(default_factory=lambda: _EMPTY)
    performance_metrics: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    version: str | None = None

    def __post_init__(self) -> None:
        put = object.__setattr__
        if self.version is not None:
            put(self, "version", _canonical_version(self.version))
        put(self, "training_date", _training_date(self.training_date))
        put(self, "artifact_path", _check_text(
            "artifact_path", self.artifact_path, limit=LIMITS["artifact_path_chars"], allow_empty=False
        ))
        if not self.artifact_path.strip():
            raise _fail("artifact_path must not be blank")
        put(self, "description", _check_text("description", self.description, limit=LIMITS["description_chars"]))
        put(self, "tags", _tags(self.tags))
        put(self, "performance_metrics", _metrics(self.performance_metrics))
        put(self, "hyperparameters", _hyperparameters(self.hyperparameters))
        put(self, "_text", None)

    def __setstate__(self, state: list[Any]) -> None:
        """Unpickling: the fields in order (what the dataclass pickles), and no stored text."""
        for name, value in zip(_STATE_ORDER, state, strict=True):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_text", None)

    def with_version(self, version: str) -> ModelMetadata:
        """A copy carrying ``version`` (canonical text), without validating the rest again.

        What a registration stores: metadata still held as a store's text is decoded first, so a
        damaged row read from one registry is refused, never written verbatim into another.
        """
        if self._text is not None:  # stored text, not checked since it was read: decode it (StoreError if damaged)
            _decode(self)
        if version == self.version:
            return self
        copy = object.__new__(ModelMetadata)
        for name in _FIELDS:
            object.__setattr__(copy, name, getattr(self, name))
        object.__setattr__(copy, "version", version)
        object.__setattr__(copy, "_text", None)
        return copy

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict; ``from_dict(json.loads(json.dumps(m.to_dict()))) == m``."""
        return {
            "version": self.version,
            "training_date": self.training_date.isoformat(),
            "hyperparameters": _thaw_json(self.hyperparameters),
            "performance_metrics": dict(self.performance_metrics),
            "artifact_path": self.artifact_path,
            "description": self.description,
            "tags": dict(self.tags),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelMetadata:
        """Build from ``to_dict`` output (or JSON input); unknown or missing fields are refused."""
        if not isinstance(data, Mapping):
            raise _fail(f"expected a JSON object, not {type(data).__name__}")
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise _fail(f"unknown field(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(_FIELDS)}")
        missing = [k for k in ("training_date", "artifact_path") if data.get(k) is None]
        if missing:
            raise _fail(f"missing required field(s) {', '.join(map(repr, missing))}")
        date = data["training_date"]
        if not isinstance(date, str):
            raise _fail(f"training_date must be an RFC 3339 string such as {TIMESTAMP_EXAMPLE}")
        try:
            parsed = parse_timestamp(date)
        except ValueError as exc:
            raise _fail(f"training_date {exc}") from None
        kwargs = {k: v for k, v in data.items() if k != "training_date"}
        if kwargs.get("version") is None:
            kwargs.pop("version", None)  # null version: the registry fills it in
        return cls(training_date=parsed, **kwargs)

    @classmethod
    def _stored(cls, version: str, text: str) -> ModelMetadata:
        """Metadata this package stored as ``text`` (``to_json``), decoded when a field other than
        ``version`` is first read: opening a million versions then costs no JSON decoding at all.

        Decoding is idempotent, so two threads reading at once both fill in the same values.
        """
        copy = _new(_StoredMetadata)
        _set_version(copy, version)  # the slots' own setters: a quarter faster than object.__setattr__
        _set_text(copy, text)
        return copy

    @classmethod
    def _from_stored(cls, data: Mapping[str, Any]) -> ModelMetadata:
        """Rebuild metadata that this package validated and stored itself, skipping re-validation.

        Opening a durable registry decodes every stored version; validating each
        again was most of the time to open 100,000 versions. Only for text that
        ``to_json`` wrote: anything else must go through ``from_dict``.
        """
        copy = object.__new__(cls)
        object.__setattr__(copy, "version", data["version"])
        object.__setattr__(copy, "_text", None)
        _fill(copy, data)
        return copy

    def to_json(self) -> str:
        """Compact JSON text of ``to_dict()`` (dumped straight from the frozen values, no thawed copy)."""
        text: str | None = self._text
        if text is not None:  # still the stored text, which to_json wrote
            return text
        fields = {name: getattr(self, name) for name in _FIELDS}
        fields["training_date"] = self.training_date.isoformat()
        return json.dumps(fields, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> ModelMetadata:
        """Inverse of ``to_json``; refuses JSON that would not be stored exactly (see ``_json``)."""
        try:
            data = loads_strict(text)
        except ValueError as exc:
            raise _fail(f"not valid JSON: {exc}") from None
        return cls.from_dict(data)


def _fill(copy: ModelMetadata, data: Mapping[str, Any]) -> None:
    """Set every field of ``copy`` from ``data`` (what ``to_json`` wrote, decoded), unvalidated."""
    put = object.__setattr__
    put(copy, "training_date", _stored_date(data["training_date"]))
    put(copy, "hyperparameters", _freeze_trusted(data["hyperparameters"]))
    metrics = {key: float(value) for key, value in data["performance_metrics"].items()}
    if not all(map(math.isfinite, metrics.values())):  # 1e400 in a row changed outside modelreg
        raise ValueError("a performance metric is not a finite number")
    put(copy, "performance_metrics", frozen_dict(metrics))
    put(copy, "artifact_path", data["artifact_path"])
    put(copy, "description", data["description"])
    put(copy, "tags", frozen_dict(data["tags"]))


def _stored_date(text: str) -> datetime:
    """The training date of stored metadata (``to_json`` wrote it); ValueError unless it is one, in UTC.

    Our own isoformat() output, so the fast C parser is exact here; outside text uses parse_timestamp.
    """
    date = datetime.fromisoformat(text)
    if date.utcoffset() != _ZERO:  # only a row changed outside modelreg: keep "aware, in UTC" true
        raise ValueError(f"its training_date {text!r} is not in UTC")
    return date


class _StoredMetadata(ModelMetadata):
    """A ``ModelMetadata`` still held as its stored text: the first read of a field decodes it in place
    and makes it a plain ``ModelMetadata`` (``__class__`` reassigned; the same slots, so allowed).

    Only this class has ``__getattr__``, so reads of decoded metadata keep CPython's fast slot access.
    Decoding is idempotent: threads reading at once may each decode, and all see the same values.
    """

    __slots__ = ()

    def __post_init__(self) -> None:
        # Built from fields (dataclasses.replace of unread stored metadata): validated, and a plain ModelMetadata.
        ModelMetadata.__post_init__(self)
        object.__setattr__(self, "__class__", ModelMetadata)

    def __getattr__(self, name: str) -> Any:
        # Only reached for an unset slot: a field not decoded yet.
        if name not in _FIELDS:
            raise AttributeError(f"'ModelMetadata' object has no attribute {name!r}")
        _decode(self)
        return object.__getattribute__(self, name)

    def __eq__(self, other: object) -> bool:
        _decode(self)
        return self == other

    def __hash__(self) -> int:
        _decode(self)
        return hash(self)

    def __repr__(self) -> str:
        _decode(self)
        return repr(self)

    def __reduce_ex__(self, protocol: Any) -> Any:
        _decode(self)  # pickled, copied and deep-copied as the plain ModelMetadata it now is
        return self.__reduce_ex__(protocol)


_STATE_ORDER = tuple(field.name for field in dataclasses.fields(ModelMetadata))  # the pickled fields' order
_new = object.__new__
_set_version = ModelMetadata.__dict__["version"].__set__
_set_text = _Pending.__dict__["_text"].__set__


def _decode(meta: ModelMetadata) -> None:
    """Decode a stored ``meta``'s text into its fields; the class and the text change last, once all are set."""
    text = meta._text
    if text is not None:
        try:
            _fill(meta, json.loads(text))
        except (ValueError, LookupError, TypeError, AttributeError, RecursionError, OverflowError) as exc:
            raise StoreError(
                f"stored metadata of version {meta.version} is unreadable ({type(exc).__name__}: {exc}); "
                "it was changed outside modelreg or is damaged"
            ) from exc
    object.__setattr__(meta, "__class__", ModelMetadata)
    object.__setattr__(meta, "_text", None)


def validate_record(description: object, tags: object) -> tuple[str, Mapping[str, str]]:
    """A model record's description and tags, checked with the limits of a version's (read-only tags)."""
    return _check_text("description", description, limit=LIMITS["description_chars"]), _tags(tags)


def _hyperparameters(value: object) -> Mapping[str, JSONValue]:
    if not isinstance(value, Mapping):
        raise _fail(f"hyperparameters must be a mapping with str keys, not {type(value).__name__}")
    frozen = _freeze_json(value, "hyperparameters", 0)
    try:
        size = len(json.dumps(frozen, allow_nan=False).encode())
    except ValueError as exc:  # pragma: no cover - _freeze_json refuses these first
        raise _fail(f"hyperparameters are not JSON-representable: {exc}") from None
    if size > LIMITS["hyperparameters_json_bytes"]:
        raise _fail(f"hyperparameters are {size} bytes as JSON; the limit is {LIMITS['hyperparameters_json_bytes']}")
    assert isinstance(frozen, Mapping)
    return frozen


def _canonical_version(text: object) -> str:
    from .semver import parse_version

    if not isinstance(text, str):
        raise _fail(f"version must be a str, not {type(text).__name__}")
    return str(parse_version(text))
