"""Parsing of ``register``'s options and metadata files into one ``ModelMetadata``."""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .._dates import parse_timestamp
from .._json import exact_float, loads_strict
from ..metadata import ModelMetadata

__all__ = [
    "MAX_METADATA_FILE_BYTES",
    "KeyValue",
    "Rfc3339DateTime",
    "build_metadata",
    "load_metadata_file",
    "load_object_file",
    "metric_value",
    "pairs_to_dict",
    "param_value",
]

if TYPE_CHECKING:
    _KeyValueBase = click.ParamType[tuple[str, Any]]
    _DateTimeBase = click.ParamType[datetime]
else:  # click < 8.2 has no generic ParamType
    _KeyValueBase = _DateTimeBase = click.ParamType

MAX_METADATA_FILE_BYTES = 4 * 1024 * 1024  # far above what valid metadata can take


def metric_value(raw: str) -> float | int:
    """A finite number stored exactly (the core's rule, ``exact_float``); ints stay ints for the registry's check."""
    text = raw.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return exact_float(text)
    except ValueError as exc:
        raise ValueError(f"{exc}; metrics are finite numbers, e.g. top1=0.761") from None


def _text_constant(name: str) -> Any:
    raise ValueError(name)  # NaN and Infinity are not JSON: such a value is taken as text


def param_value(raw: str) -> Any:
    """JSON when the text parses (numbers, true/false/null, lists, objects, "quoted"), else the text.

    JSON that cannot be stored exactly (``1e-400``, a key given twice) is refused rather than
    quietly kept as text: the caller meant a number or an object.
    """
    try:
        return loads_strict(raw)
    except ValueError as exc:
        refused = exc
    try:
        json.loads(raw, parse_constant=_text_constant)
    except ValueError:
        return raw  # not JSON at all: plain text
    except RecursionError:
        pass  # JSON, nested too deeply to store
    raise ValueError(f"{refused}; to keep it as text, quote it as a JSON string, e.g. n='\"1e-400\"'")


def tag_value(raw: str) -> str:
    """Tags are text, taken as given."""
    return raw


class KeyValue(_KeyValueBase):
    """A ``KEY=VALUE`` option value, the value converted by ``convert_value``."""

    name = "KEY=VALUE"

    def __init__(self, convert_value: Any, example: str) -> None:
        self.convert_value = convert_value
        self.example = example

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, Any]:
        """Split at the first ``=`` and convert the value; fail with an example otherwise."""
        if isinstance(value, tuple):
            return value
        key, sep, raw = str(value).partition("=")
        if not sep or not key.strip():
            self.fail(f"{value!r} is not KEY=VALUE, e.g. {self.example}", param, ctx)
        try:
            return key.strip(), self.convert_value(raw)
        except ValueError as exc:
            self.fail(f"{key.strip()}: {exc}", param, ctx)


def pairs_to_dict(pairs: Sequence[tuple[str, Any]], option: str) -> dict[str, Any]:
    """The pairs as a dict; a key given twice is refused rather than silently overwritten."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise click.BadParameter(f"{key!r} is given more than once", param_hint=f"'{option}'")
        out[key] = value
    return out


class Rfc3339DateTime(_DateTimeBase):
    """An RFC 3339 date and time with a UTC offset, or a bare date (midnight UTC): the core's one parser."""

    name = "RFC3339"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        """Parse with ``parse_timestamp``, the rule the server and metadata files follow too."""
        if isinstance(value, datetime):
            return value
        try:
            return parse_timestamp(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def load_metadata_file(path: Path) -> dict[str, Any]:
    """Read metadata fields from a ``.json``, ``.yaml`` or ``.yml`` file."""
    return load_object_file(
        path, "metadata fields (artifact_path, training_date, hyperparameters, performance_metrics, description, tags)"
    )


def load_object_file(path: Path, fields: str) -> dict[str, Any]:
    """Read an object of ``fields`` (named in the error when it is not one) from a .json, .yaml or .yml file."""
    hint = "'--from-file'"
    suffix = path.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise click.BadParameter(f"{path} is not a .json, .yaml or .yml file", param_hint=hint)
    size = path.stat().st_size
    if size > MAX_METADATA_FILE_BYTES:
        raise click.BadParameter(
            f"{path} is {size} bytes; files given to --from-file are limited to {MAX_METADATA_FILE_BYTES}",
            param_hint=hint,
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise click.BadParameter(f"{path} is not UTF-8 text ({exc.reason})", param_hint=hint) from None
    data = _parse_json(path, text) if suffix == ".json" else _parse_yaml(path, text)
    if not isinstance(data, Mapping):
        raise click.BadParameter(f"{path} must hold an object of {fields}, not {type(data).__name__}", param_hint=hint)
    return dict(data)


def _parse_json(path: Path, text: str) -> Any:
    try:
        return loads_strict(text)
    except ValueError as exc:
        raise click.BadParameter(f"{path} is not valid JSON: {exc}", param_hint="'--from-file'") from None


def _parse_yaml(path: Path, text: str) -> Any:
    try:
        yaml = importlib.import_module("yaml")  # PyYAML is optional; no stubs needed
    except ImportError:
        raise click.BadParameter(
            f"reading {path} needs PyYAML, which is not installed: pip install pyyaml (or use a .json file)",
            param_hint="'--from-file'",
        ) from None
    try:
        return yaml.load(text, Loader=_exact_yaml_loader(yaml))  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as exc:
        where = " ".join(str(exc).split())
        raise click.BadParameter(f"{path} is not valid YAML: {where}", param_hint="'--from-file'") from None


_YAML_DECIMAL_INT = re.compile(r"[-+]?(?:0|[1-9][0-9_]*)")
_YAML_EXPONENT_FLOAT = re.compile(r"[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+")


def _exact_yaml_loader(yaml: Any) -> Any:
    """PyYAML's SafeLoader, keeping to the JSON rules: exact floats only, no repeated keys, and
    timestamps kept as the text written, so a training_date meets the same RFC 3339 parser as
    everywhere else (PyYAML would take a naive one as UTC and cut a long fraction silently)."""

    def fail(message: str, node: Any) -> Exception:
        return yaml.constructor.ConstructorError(None, None, message, node.start_mark)  # type: ignore[no-any-return]

    class ExactLoader(yaml.SafeLoader):  # type: ignore[misc]
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[object] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if isinstance(key, str) and key in seen:  # PyYAML would keep the last value silently
                    raise fail(f"the key {key[:64]!r} appears twice in one mapping", key_node)
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    def exact_yaml_float(loader: Any, node: Any) -> float:
        text = str(loader.construct_scalar(node)).replace("_", "")  # YAML allows 1_000.5
        if text.lstrip("+-").lower() in (".inf", ".nan"):
            return float(loader.construct_yaml_float(node))  # refused later, with the field's name
        if ":" in text:
            raise fail(f"{text[:40]} is a base-60 number (YAML 1.1); write it in decimal or quote it", node)
        try:
            return exact_float(text)
        except ValueError as exc:
            raise fail(str(exc), node) from None

    def decimal_yaml_int(loader: Any, node: Any) -> int:
        text = str(loader.construct_scalar(node))
        if not _YAML_DECIMAL_INT.fullmatch(text):  # YAML 1.1 reads 010 as 8, 0x10 as 16, 1:30 as 90
            raise fail(f"{text[:40]} is an octal, hexadecimal, binary or base-60 number in YAML 1.1, "
                       "not the decimal it reads as; write it in decimal or quote it", node)
        return int(text.replace("_", ""))

    def timestamp_text(loader: Any, node: Any) -> str:
        return str(loader.construct_scalar(node))

    ExactLoader.add_constructor("tag:yaml.org,2002:float", exact_yaml_float)
    ExactLoader.add_constructor("tag:yaml.org,2002:int", decimal_yaml_int)
    ExactLoader.add_constructor("tag:yaml.org,2002:timestamp", timestamp_text)
    # YAML 1.1 floats need a dot, so 1e3 would be the text "1e3"; read it as JSON and YAML 1.2 do.
    ExactLoader.add_implicit_resolver("tag:yaml.org,2002:float", _YAML_EXPONENT_FLOAT, list("-+0123456789"))
    return ExactLoader


def build_metadata(
    file_fields: Mapping[str, Any],
    *,
    artifact: str | None,
    metrics: Mapping[str, Any],
    params: Mapping[str, Any],
    tags: Mapping[str, str],
    description: str | None,
    trained_at: datetime | None,
) -> ModelMetadata:
    """Metadata from a file's fields with options laid over them (mappings merge key by key)."""
    fields = dict(file_fields)
    fields.pop("version", None)  # the VERSION argument names the version
    if artifact is not None:
        fields["artifact_path"] = artifact
    if description is not None:
        fields["description"] = description
    for key, extra in (("performance_metrics", metrics), ("hyperparameters", params), ("tags", tags)):
        if extra:
            base = fields.get(key) or {}
            if not isinstance(base, Mapping):
                raise click.BadParameter(
                    f"{key} in the file must be an object, not {type(base).__name__}", param_hint="'--from-file'"
                )
            fields[key] = {**base, **extra}
    if trained_at is not None:
        fields["training_date"] = trained_at.isoformat()
    elif "training_date" not in fields:
        fields["training_date"] = datetime.now(UTC).isoformat()
    if not fields.get("artifact_path"):
        raise click.UsageError("missing --artifact PATH (or artifact_path in --from-file): where the model is stored")
    return ModelMetadata.from_dict(fields)
