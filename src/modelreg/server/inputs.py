"""What a request brings: bodies (the strict JSON loader, the media type, annotation shapes) and query flags.

Handlers read every body through ``json_object``; a wrong JSON type inside an annotation
is a MetadataError (422, code invalid_metadata), the error registration gives for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import _json
from ..errors import MetadataError
from .call import Call
from .problems import HTTPProblem

__all__ = [
    "ANNOTATION_KEYS",
    "MODEL_ANNOTATION_KEYS",
    "annotation",
    "flag",
    "json_object",
    "json_type",
    "loads_strict",
]

ANNOTATION_KEYS = ("description", "set_tags", "remove_tags", "add_metrics")
"""What ``PATCH /api/v1/models/{name}/versions/{version}`` accepts."""
MODEL_ANNOTATION_KEYS = ("description", "set_tags", "remove_tags")
"""What ``PATCH /api/v1/models/{name}`` accepts."""


def loads_strict(body: bytes) -> Any:
    """Parse a request body with the core's strict loader (``modelreg._json``); HTTPProblem 400 if refused."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPProblem("invalid_json", f"the body is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        return _json.loads_strict(text)
    except ValueError as exc:
        raise HTTPProblem("invalid_json", f"the body is not valid JSON: {exc}") from None


def _check_media_type(ctype: str | None) -> None:
    """Accept ``application/json`` (charset, if given, utf-8) or no Content-Type; 415 for anything else.

    Other ``+json`` types (merge-patch, problem) mean something else, and the body is always read as UTF-8.
    """
    if ctype is None:
        return
    media, _, params = ctype.partition(";")
    media = media.strip().lower()
    if media != "application/json":
        raise HTTPProblem("unsupported_media_type", f"send the body as application/json, not {media[:80]!r}")
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            shown = value.strip()[:40]
            raise HTTPProblem("unsupported_media_type", f"send the JSON body as UTF-8 (charset=utf-8), not {shown!r}")


async def json_object(call: Call) -> dict[str, Any]:
    """The request body as a JSON object (400/415/422 problems for anything else)."""
    _check_media_type(call.header(b"content-type"))
    data = loads_strict(await call.body())
    if not isinstance(data, dict):
        raise HTTPProblem("invalid_body", f"the body must be a JSON object, not {json_type(data)}")
    return data


def json_type(value: object) -> str:
    """How JSON calls ``value``'s type, with an article ('an array', 'a string', ...)."""
    names = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number",
             dict: "an object"}
    return names.get(type(value), "null")


def annotation(data: Mapping[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    """An annotation body's fields as keyword arguments of ``annotate``/``annotate_model``, their JSON types checked.

    Unknown keys are refused naming them; what the values may hold (lengths, counts, finite
    numbers, metrics never changed) is the registry's to check, as for registration.
    """
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise HTTPProblem("invalid_body", f"unknown field(s) {', '.join(map(repr, unknown))}; allowed: "
                          f"{', '.join(map(repr, allowed))}")
    kwargs: dict[str, Any] = {}
    if "description" in data:
        kwargs["description"] = _typed(data["description"], str, "description", "a string")
    if "set_tags" in data:
        tags = _typed(data["set_tags"], dict, "set_tags", 'an object of strings, e.g. {"team": "vision"}')
        for key, value in tags.items():
            _typed(value, str, f"set_tags[{key[:64]!r}]", "a string")
        kwargs["set_tags"] = tags
    if "remove_tags" in data:
        keys = _typed(data["remove_tags"], list, "remove_tags", 'an array of tag names, e.g. ["wip"]')
        for i, key in enumerate(keys):
            _typed(key, str, f"remove_tags[{i}]", "a string (a tag name)")
        kwargs["remove_tags"] = keys
    if "add_metrics" in data:
        metrics = _typed(data["add_metrics"], dict, "add_metrics", 'an object of numbers, e.g. {"top5": 0.93}')
        for key, value in metrics.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise MetadataError(f"add_metrics[{key[:64]!r}] must be a number, not {json_type(value)}")
        kwargs["add_metrics"] = metrics
    return kwargs


def _typed(value: Any, kind: type, where: str, expected: str) -> Any:
    if type(value) is not kind:
        raise MetadataError(f"{where} must be {expected}, not {json_type(value)}")
    return value


def flag(query: Mapping[str, str], key: str) -> bool:
    """A ``true``/``false`` query parameter (absent: false); 400 invalid_parameter for anything else."""
    value = query.get(key)
    if value is None or value == "false":
        return False
    if value == "true":
        return True
    raise HTTPProblem("invalid_parameter", f"query parameter {key!r} must be 'true' or 'false', not {value[:40]!r}")
