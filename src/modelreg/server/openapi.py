"""The OpenAPI 3.1 document of the API and a self-contained docs page rendered from it.

The page needs no CDN: its HTML, CSS and a few lines of script are all inline, so
``/docs`` works on an air-gapped network.
"""

from __future__ import annotations

import functools
import html
import json
import re
from typing import Any

from .. import __version__, _paths
from .._version import VERSION_PATTERN
from ..errors import ERROR_CLASSES, RegistryError
from ..events import EVENT_KINDS
from ..metadata import LIMITS
from ..names import ALIAS_PATTERN, NAME_PATTERN
from ..semver import MAX_RANGE_LENGTH, MAX_VERSION_LENGTH
from .openapi_governance import Kit
from .openapi_governance import operations as governance_operations
from .openapi_governance import schemas as governance_schemas
from .openapi_webhooks import operations as webhook_operations
from .openapi_webhooks import schemas as webhook_schemas
from .paging import DEFAULT_LIMIT
from .problems import HTTP_CODES
from .routes import MAX_CHANGES, ROUTES

__all__ = ["docs_html", "document", "document_json"]


def _anchored(verbose: str) -> str:
    """A Python verbose regex as an anchored JSON Schema (ECMA-262) pattern: no comments, spaces or group names."""
    plain = re.sub(r"#[^\n]*|\s+", "", verbose)
    return "^" + re.sub(r"\(\?P<\w+>", "(", plain) + "$"


_REF = "#/components/schemas/"
_PAGE_LIMIT = _paths.PAGE_LIMIT
_NAME_PATTERN = f"^{NAME_PATTERN}$"
_ALIAS_PATTERN = f"^{ALIAS_PATTERN}$"
_NULLABLE_STR = {"type": ["string", "null"]}
_VERSION_PATTERN = _anchored(VERSION_PATTERN)
_SSE_EVENT = {"type": "object", "properties": {
    "event": {"enum": ["hello", "ready", *EVENT_KINDS]},
    "data": {"type": "string"}, "id": {"type": "string", "pattern": "^[0-9]+$"}, "retry": {"type": "integer"}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _schemas() -> dict[str, Any]:
    metadata_props: dict[str, Any] = {
        "version": {"type": ["string", "null"], "maxLength": MAX_VERSION_LENGTH,
                    "description": "Optional; must have the path version's precedence."},
        "training_date": {"type": "string", "format": "date-time", "examples": ["2026-01-05T12:30:00+00:00"]},
        "hyperparameters": {"type": ["object", "null"], "description": "Any JSON object (finite numbers only)."},
        "performance_metrics": {"type": ["object", "null"], "additionalProperties": {"type": "number"},
                                "maxProperties": LIMITS["metrics"]},
        "artifact_path": {"type": "string", "minLength": 1, "maxLength": LIMITS["artifact_path_chars"],
                          "examples": ["s3://models/resnet50/1.0.0"]},
        "description": {"type": ["string", "null"], "maxLength": LIMITS["description_chars"]},
        "tags": {"type": ["object", "null"], "maxProperties": LIMITS["tags"],
                 "additionalProperties": {"type": "string", "maxLength": LIMITS["tag_value_chars"]}},
    }
    stored_props = {
        **metadata_props,
        "version": {"type": "string"},
        "hyperparameters": {"type": "object"},
        "performance_metrics": {"type": "object", "additionalProperties": {"type": "number"}},
        "description": {"type": "string"},
        "tags": {"type": "object", "additionalProperties": {"type": "string"}},
    }
    event_kinds = list(EVENT_KINDS)
    next_cursor = {"type": ["string", "null"],
                   "description": "Only when the request named limit or cursor: pass it as cursor for the next "
                   "page; null on the last page."}
    str_map = {"type": "object", "additionalProperties": {"type": "string"}}
    record_props = {
        **stored_props,
        "name": {"type": "string"},
        "aliases": {"type": "array", "items": {"type": "string"}, "description": "Aliases pointing at it, sorted."},
        "registered_at": {"type": "string", "format": "date-time"},
        "registered_by": {"type": ["string", "null"], "description": "The actor who registered it."},
    }
    tag_edits = {
        "description": {"type": "string", "maxLength": LIMITS["description_chars"]},
        "set_tags": {"type": "object", "maxProperties": LIMITS["tags"],
                     "additionalProperties": {"type": "string", "maxLength": LIMITS["tag_value_chars"]}},
        "remove_tags": {"type": "array", "items": {"type": "string"}, "maxItems": LIMITS["tags"]},
    }
    return {
        "Metadata": {"type": "object", "additionalProperties": False,
                     "required": ["training_date", "artifact_path"], "properties": metadata_props},
        "StoredMetadata": {"type": "object", "additionalProperties": False,
                           "required": list(stored_props), "properties": stored_props},
        "ModelList": {"type": "object", "required": ["models"], "properties": {"models": {
            "type": "array", "items": {"type": "object", "required": ["name", "versions"], "properties": {
                "name": {"type": "string"}, "versions": {"type": "integer", "minimum": 1}}}},
            "next_cursor": next_cursor}},
        "VersionList": {"type": "object", "required": ["name", "versions"], "properties": {
            "name": {"type": "string"}, "versions": {"type": "array", "items": {"type": "string"}},
            "next_cursor": next_cursor}},
        "VersionRecord": {"type": "object", "additionalProperties": False, "required": list(record_props),
                          "properties": record_props},
        "SearchPage": {"type": "object", "required": ["items", "next_cursor", "total"], "properties": {
            "items": {"type": "array", "items": _ref("VersionRecord"), "maxItems": _PAGE_LIMIT},
            "next_cursor": {"type": ["string", "null"], "description": "The next page's cursor; null on the last."},
            "total": {"type": "integer", "minimum": 0, "description": "How many versions match in all."}}},
        "Annotation": {"type": "object", "additionalProperties": False, "properties": {
            **tag_edits,
            "add_metrics": {"type": "object", "maxProperties": LIMITS["metrics"],
                            "additionalProperties": {"type": "number"},
                            "description": "New metrics only: a metric the version has cannot change."}}},
        "ModelAnnotation": {"type": "object", "additionalProperties": False, "properties": tag_edits},
        "ModelInfo": {"type": "object", "additionalProperties": False, "required": [
            "name", "description", "tags", "version_count", "latest", "aliases", "created_at", "updated_at"],
            "properties": {
                "name": {"type": "string"}, "description": {"type": "string"}, "tags": str_map,
                "version_count": {"type": "integer", "minimum": 0}, "latest": _NULLABLE_STR,
                "aliases": {**str_map, "description": "Alias to version."},
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"}}},
        "Aliases": {"type": "object", "required": ["name", "aliases"], "properties": {
            "name": {"type": "string"}, "aliases": {"type": "object", "additionalProperties": {"type": "string"}}}},
        "PastVersion": {"type": "object", "additionalProperties": False,
                        "required": ["name", "version", "unregistered"],
                        "description": "resolve?at=: the version named then, unregistered since (no metadata left).",
                        "properties": {"name": {"type": "string"}, "version": {"type": "string"},
                                       "unregistered": {"const": True}}},
        **_governance_schemas(),
        **webhook_schemas(_kit()),
        "AliasTarget": {"type": "object", "additionalProperties": False, "required": ["version"],
                        "properties": {"version": {"type": "string", "pattern": _VERSION_PATTERN,
                                                   "examples": ["1.2.0"]}}},
        "Event": {"type": "object", "required": ["kind", "name", "version", "alias", "revision", "at", "actor"],
                  "properties": {"kind": {"enum": event_kinds}, "name": {"type": "string"},
                                 "version": _NULLABLE_STR, "alias": _NULLABLE_STR,
                                 "revision": {"type": "integer"}, "at": {"type": "string", "format": "date-time"},
                                 "actor": _NULLABLE_STR,
                                 "detail": {"type": "object", "description": "What an annotation changed "
                                            "(annotated, model_annotated events only)."}}},
        "History": {"type": "object", "required": ["name", "events"], "properties": {
            "name": {"type": "string"}, "events": {"type": "array", "items": _ref("Event")},
            "next_cursor": next_cursor}},
        "Changes": {"type": "object", "required": ["store", "revision", "events"], "properties": {
            "store": {"type": "string"}, "revision": {"type": "integer", "minimum": 0},
            "events": {"type": "array", "items": _ref("Event"), "maxItems": MAX_CHANGES}}},
        "Status": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}},
        "Problem": {"type": "object", "required": ["type", "title", "status", "detail", "code"], "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
            "detail": {"type": "string"}, "code": {"type": "string"}, "name": {"type": "string"},
            "version": {"type": "string"}, "alias": {"type": "string"},
            "position": {"type": "integer", "minimum": 1,
                         "description": "invalid_query only: the 1-based column of the query where it went wrong."}}},
    }


_ERRORS = {
    "400": "Malformed request: bad JSON, unknown or invalid query parameter, bad cursor of a list route (code "
    "invalid_json, invalid_parameter), or a search query, order, limit or cursor that cannot be read (code "
    "invalid_query, with its 1-based 'position' when it has one).",
    "401": "No valid bearer token (code unauthorized).",
    "403": "The token's role is too low, or (registering) the model is outside its scope (code forbidden).",
    "404": "No such model version, alias, policy or promotion request (code version_not_found, alias_not_found, "
    "policy_not_found, promotion_not_found).",
    "409": "Duplicate version, an alias points at the version or model (code duplicate_version, version_in_use), "
    "or an alias policy refuses the change, naming each failed requirement (code policy_violation).",
    "410": "Events before the requested revision are no longer kept (code events_unavailable), or the store "
    "has not reached it: a different, recreated or restored store (code unknown_revision).",
    "413": "The body is over the server's limit (code payload_too_large).",
    "415": "The body is not sent as application/json (charset utf-8 if any) (code unsupported_media_type).",
    "408": "The request's headers or body did not arrive within the server's timeout (code request_timeout); "
    "the connection is closed.",
    "422": "Invalid name, version, range, metadata, annotation or policy, e.g. changing a recorded metric (code "
    "invalid_name, invalid_version, invalid_metadata, invalid_policy, invalid_body).",
    "431": "The request line and headers are over the server's limit (code headers_too_large); the connection "
    "is closed.",
    "503": "The store is unavailable (code store_unavailable), or every connection up to the server's cap is "
    "busy being served (code too_many_connections).",
}
# What the connection layer (server/_guard.py) can answer to any request, whatever its route.
_CONNECTION_ERRORS = ("408", "431", "503")


def _problem(status: str) -> dict[str, Any]:
    return {"description": _ERRORS[status], "content": {"application/problem+json": {"schema": _ref("Problem")}}}


def _ok(description: str, schema: str | None = None, media: str = "application/json") -> dict[str, Any]:
    if schema is None:
        return {"description": description}
    return {"description": description, "content": {media: {"schema": _ref(schema)}}}


def _param(name: str, where: str, schema: dict[str, Any], description: str, required: bool = True) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": schema, "description": description}


_P_NAME = _param("name", "path", {"type": "string", "pattern": _NAME_PATTERN}, "Model name, e.g. resnet50.")
_P_VERSION = _param("version", "path", {"type": "string", "maxLength": MAX_VERSION_LENGTH, "pattern": _VERSION_PATTERN},
                    "SemVer 2.0.0 version (a leading v is accepted), e.g. 1.4.2.")
# Aliases must not read as a version or range: not 'latest', 'x', nor 'v1', 'v1.x', ...
_ALIAS_SCHEMA = {"type": "string", "pattern": _ALIAS_PATTERN, "not": {"anyOf": [
    {"enum": ["latest", "x", "X"]}, {"pattern": "^[vV][0-9xX*][0-9A-Za-z.*+-]*$"}]}}
_P_ALIAS = _param("alias", "path", _ALIAS_SCHEMA, "Alias name, e.g. production.")
_API_ERRORS = ("400", "401", "403", "413", "422")
_P_LIMIT = _param("limit", "query", {"type": "string", "pattern": "^[0-9]{1,4}$"},
                  f"Page size, 1 to {_PAGE_LIMIT} (default {DEFAULT_LIMIT} once limit or cursor is given; without "
                  "either, everything in one answer).", required=False)
_P_CURSOR = _param("cursor", "query", {"type": "string", "maxLength": 1024},
                   "The next_cursor of the previous page (opaque).", required=False)
_PAGED = [_P_LIMIT, _P_CURSOR]
_HISTORY_FILTERS = [
    _param("version", "query", {"type": "string", "maxLength": MAX_VERSION_LENGTH, "pattern": _VERSION_PATTERN},
           "Only this version's events (build metadata ignored, as by the version routes), e.g. 1.4.2.",
           required=False),
    _param("kinds", "query", {"type": "string", "maxLength": 1024,
                              "pattern": "^((" + "|".join(EVENT_KINDS) + ")(,(" + "|".join(EVENT_KINDS) + "))*)?$"},
           f"Only events of these kinds, comma-separated ({', '.join(EVENT_KINDS)}); empty: none.",
           required=False),
]
_P_AT = _param("at", "query", {"type": "string", "format": "date-time", "maxLength": 64},
               "Answer as the registry stood at this time: RFC 3339 with an offset (e.g. 2026-11-20T14:00:00Z) "
               "or a bare date (midnight UTC); not in the future.", required=False)
_P_FORCE_MODEL = _param("force", "query", {"type": "string", "enum": ["true", "false"]},
                        "Also remove the model's aliases (admin role).", required=False)
_SEARCH_PARAMS = [
    _param("where", "query", {"type": "string", "maxLength": 4096},
           "A filter in the search language (docs/search.md), e.g. metrics.top1 >= 0.76 and version satisfies "
           "'^2'; empty or absent: every version.", required=False),
    _param("name", "query", {"type": "string", "pattern": _NAME_PATTERN}, "Only this model's versions.",
           required=False),
    _param("order_by", "query", {"type": "string", "maxLength": 1024},
           "e.g. metrics.top1 desc, version; default name, then version.", required=False),
    _param("limit", "query", {"type": "string", "pattern": "^[0-9]{1,4}$"},
           f"Page size, 1 to {_PAGE_LIMIT} (default {DEFAULT_LIMIT}).", required=False),
    _param("cursor", "query", {"type": "string", "maxLength": 1024},
           "The next_cursor of the previous page of the same query, order and name.", required=False),
]


def _op(summary: str, params: list[dict[str, Any]], responses: dict[str, Any], errors: tuple[str, ...],
        body: str | None = None, public: bool = False) -> dict[str, Any]:
    problems = {code: _problem(code) for code in (*errors, *_CONNECTION_ERRORS)}
    op: dict[str, Any] = {"summary": summary, "parameters": params, "responses": {**responses, **problems}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
    if public:
        op["security"] = []
    return op


def _operations() -> dict[str, dict[str, Any]]:
    """What each route's methods do, keyed as ``ROUTES`` is; ``_described`` checks the two agree."""
    version_errors = (*_API_ERRORS, "404")
    write_errors = (*_API_ERRORS, "404", "409", "503")
    return {
        _paths.MODELS: {"get": _op("Model names with their version counts, sorted (paged with limit/cursor)",
                                      _PAGED, {"200": _ok("The models", "ModelList")}, _API_ERRORS)},
        _paths.MODEL: {
            "get": _op("A model's record: description, tags, version count, latest, aliases", [_P_NAME],
                       {"200": _ok("The model record", "ModelInfo")}, version_errors),
            "patch": _op("Change a model's description and tags (write role)", [_P_NAME],
                         {"200": _ok("The model record after the change", "ModelInfo")},
                         (*write_errors, "415"), body="ModelAnnotation"),
            "delete": _op("Delete every version of a model in one transaction (write role; force=true needs admin "
                          "and removes its aliases)", [_P_NAME, _P_FORCE_MODEL], {"204": _ok("Deleted")},
                          write_errors),
        },
        _paths.VERSIONS: {"get": _op(
            "Versions of a model in ascending precedence ([] for an unknown model; paged with limit/cursor; "
            "at=T: as they stood then, in one answer)",
            [_P_NAME, *_PAGED, _P_AT], {"200": _ok("The versions", "VersionList")}, _API_ERRORS)},
        _paths.VERSION: {
            "get": _op("A version's metadata", [_P_NAME, _P_VERSION],
                       {"200": _ok("The stored metadata", "StoredMetadata")}, version_errors),
            "head": _op("Whether the version exists (200) or not (404)", [_P_NAME, _P_VERSION],
                        {"200": _ok("It exists")}, version_errors),
            "put": _op("Register a version (write role)", [_P_NAME, _P_VERSION],
                       {"201": _ok("Registered; the stored metadata", "StoredMetadata")},
                       (*write_errors, "415"), body="Metadata"),
            "patch": _op("Annotate a version: description, tags, new metrics (write role)", [_P_NAME, _P_VERSION],
                         {"200": _ok("The metadata after the change", "StoredMetadata")},
                         (*write_errors, "415"), body="Annotation"),
            "delete": _op("Unregister a version (write role; force=true needs admin and removes its aliases)",
                          [_P_NAME, _P_VERSION, _param("force", "query", {"type": "string", "enum": ["true", "false"]},
                                                       "Also remove aliases pointing at it.", required=False)],
                          {"204": _ok("Unregistered")}, write_errors),
        },
        _paths.RESOLVE: {"get": _op(
            "Metadata of the highest version matching a range, 'latest' or an alias",
            [_P_NAME, _param("spec", "query", {"type": "string", "maxLength": MAX_RANGE_LENGTH},
                             "e.g. ^1.2, ~1.2.3, >=1.0.0 <2.0.0, 1.x, latest, production"), _P_AT],
            {"200": {"description": "The matching version's metadata (with at=: a PastVersion if it has been "
                                    "unregistered since)", "content": {"application/json": {"schema": {
                                        "anyOf": [_ref("StoredMetadata"), _ref("PastVersion")]}}}}},
            version_errors)},
        _paths.ALIASES: {"get": _op("A model's aliases (at=T: as they stood then)", [_P_NAME, _P_AT],
                                                     {"200": _ok("Alias to version", "Aliases")}, _API_ERRORS)},
        _paths.ALIAS: {
            "put": _op("Point an alias at a version, moving it if it exists (write role; its policy, if any, decides)",
                       [_P_NAME, _P_ALIAS],
                       {"204": _ok("Set")}, (*write_errors, "415"), body="AliasTarget"),
            "delete": _op("Remove an alias (write role; its policy, if any, decides)", [_P_NAME, _P_ALIAS],
                          {"204": _ok("Removed")},
                          write_errors),
        },
        _paths.HISTORY: {"get": _op("A model's changes, oldest first, optionally only one version's or some kinds "
                                    "(paged with limit/cursor)", [_P_NAME, *_HISTORY_FILTERS, *_PAGED],
                                    {"200": _ok("The events", "History")}, (*_API_ERRORS, "503"))},
        _paths.SEARCH: {"get": _op("Versions matching a query, in order, one page at a time", _SEARCH_PARAMS,
                                   {"200": _ok("One page of matches", "SearchPage")}, (*_API_ERRORS, "503"))},
        _paths.EVENTS: {"get": _op(
            "Changes as Server-Sent Events: a 'hello' event (the store's id and revision), a 'ready' event, "
            "then one event per change (id = revision)",
            [_param("since", "query", {"type": "string", "pattern": "^[0-9]{1,18}$"},
                    "Replay changes after this revision (the Last-Event-ID header wins).", required=False)],
            {"200": {"description": "An endless text/event-stream; each event's data is an Event as JSON",
                     "content": {"text/event-stream": {"schema": _SSE_EVENT}}}},
            ("400", "401", "403", "410", "413", "503"))},
        _paths.CHANGES: {"get": _op(
            "The store's id and revision, and the changes after a revision (oldest first, at most "
            f"{MAX_CHANGES}): what the event stream sends, as a list",
            [_param("after", "query", {"type": "string", "pattern": "^[0-9]{1,18}$"},
                    "Return the changes after this revision; without it, none (only the revision).", required=False),
             _param("limit", "query", {"type": "string", "pattern": "^[0-9]{1,4}$"},
                    f"At most this many changes, 1 to {MAX_CHANGES} (default {MAX_CHANGES}).", required=False)],
            {"200": _ok("The store, its revision and the changes", "Changes")},
            ("400", "401", "403", "410", "413", "503"))},
        _paths.SNAPSHOT: {"get": _op(
            "A consistent copy of the (selected) models at one revision, or the changes after a revision, as "
            "newline-delimited JSON, streamed, gzip when accepted (docs/mirror.md): what a mirror starts from",
            [_param("models", "query", {"type": "string", "maxLength": 13000},
                    "Only these models: comma-separated names or globs, e.g. resnet50,bert-*.", required=False),
             _param("after", "query", {"type": "string", "pattern": "^[0-9]{1,18}$"},
                    "Instead of a copy, the changes after this revision up to the stated one.", required=False)],
            {"200": {"description": "NDJSON lines: a header (store, revision), the items, an end line",
                     "content": {"application/x-ndjson": {"schema": {"type": "string"}}}}},
            ("400", "401", "403", "404", "410", "413", "503"))},
        _paths.HEALTHZ: {"get": _op("The process is up", [], {"200": _ok("Up", "Status")}, ("400", "413"),
                                    public=True)},
        _paths.READYZ: {"get": _op("The store answers and the server is not shutting down", [],
                               {"200": _ok("Ready", "Status")}, ("400", "413", "503"), public=True)},
        _paths.METRICS: {"get": _op("Prometheus metrics", [], {"200": {
            "description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}},
            ("400", "401", "403", "413"))},
        _paths.OPENAPI: {"get": _op("This document", [], {"200": {"description": "OpenAPI 3.1",
                                     "content": {"application/json": {"schema": {"type": "object"}}}}},
                                     ("400", "413"), public=True)},
        _paths.DOCS: {"get": _op("Interactive documentation", [], {"200": {
            "description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}},
            ("400", "413"), public=True)},
        **_governance_operations(),
        **webhook_operations(_kit()),
    }


def _kit() -> Kit:
    return Kit(_op, _ok, _param, _ref, _P_NAME, _P_ALIAS, _API_ERRORS)


def _governance_schemas() -> dict[str, Any]:
    return governance_schemas(_kit())


def _governance_operations() -> dict[str, dict[str, Any]]:
    return governance_operations(_kit())


def _described() -> dict[str, Any]:
    """The ``paths`` object, walked from ``ROUTES``: every served method documented, nothing else."""
    documented = _operations()
    served = {route.template: {method.lower() for method in route.methods} for route in ROUTES}
    if {path: set(ops) for path, ops in documented.items()} != served:
        raise RuntimeError("openapi.py documents other routes or methods than routes.ROUTES serves")
    return {route.template: documented[route.template] for route in ROUTES}


@functools.cache
def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (built once)."""
    codes = "; ".join(f"{code} ({status})" for code, (status, _) in HTTP_CODES.items())
    registry_codes = ", ".join(cls.code for cls in ERROR_CLASSES if cls is not RegistryError)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "modelreg",
            "version": __version__,
            "description": "A registry of model versions with strict SemVer, aliases and change events. "
            "Errors are RFC 9457 application/problem+json bodies with a stable 'code': the registry's "
            f"({registry_codes}) and the HTTP layer's: {codes}.",
        },
        "paths": _described(),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "Roles: read < write < admin."}},
        },
        "security": [{"bearer": []}, {}],
    }


@functools.cache
def document_json() -> bytes:
    """The document as JSON bytes."""
    return json.dumps(document(), separators=(",", ":")).encode()


_SCRIPT = """
function send(form){
  const op=JSON.parse(form.dataset.op);let path=op.path;const q=new URLSearchParams();
  for(const p of op.params){const v=form.elements[p.name].value;if(p.in==='path'){path=path.replace('{'+p.name+'}',
  encodeURIComponent(v));}else if(v!==''){q.append(p.name,v);}}
  const headers={};const tok=document.getElementById('token').value;if(tok){headers['Authorization']='Bearer '+tok;}
  const init={method:op.method.toUpperCase(),headers};
  if(form.elements.body){headers['Content-Type']='application/json';init.body=form.elements.body.value;}
  const out=form.querySelector('pre');const qs=q.toString();const url=path.slice(1)+(qs?'?'+qs:'');
  if(op.path==='/api/v1/events'){out.textContent='Open '+url+' with an EventSource or curl -N.';return false;}
  out.textContent='...';
  fetch(url,init).then(async r=>{const t=await r.text();let shown=t;
    try{shown=JSON.stringify(JSON.parse(t),null,2);}catch(e){}
    out.textContent=r.status+' '+r.statusText+'\\n'+shown;}).catch(e=>{out.textContent=String(e);});
  return false;}
"""

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
details{border:1px solid #ccc;border-radius:6px;margin:.5rem 0;padding:.4rem .8rem}
summary{cursor:pointer}code,pre,textarea{font-family:ui-monospace,monospace}
.m{display:inline-block;min-width:4.5rem;font-weight:bold}pre{background:#f6f6f6;padding:.5rem;overflow:auto}
textarea{width:100%;height:8rem}label{display:block;margin:.2rem 0}table{border-collapse:collapse}
td{padding:.1rem .6rem;vertical-align:top;border-bottom:1px solid #eee}
"""


_GOVERNANCE_EXAMPLES: dict[str, Any] = {
    "Policy": {"require": ["metrics.top1 >= 0.75"], "must_not_regress": ["metrics.top1"], "approvals": 2},
    "PromotionCreate": {"name": "resnet50", "alias": "production", "version": "1.5.0", "reason": "beats 1.4.2"},
    "Rejection": {"reason": "wait for the v3 eval"},
}


def _example_body(schema_name: str) -> str:
    if schema_name == "AliasTarget":
        return '{"version": "1.0.0"}'
    if schema_name in _GOVERNANCE_EXAMPLES:
        return json.dumps(_GOVERNANCE_EXAMPLES[schema_name], indent=2)
    if schema_name in ("Annotation", "ModelAnnotation"):
        body: dict[str, Any] = {"description": "Fine-tuned", "set_tags": {"team": "vision"}, "remove_tags": ["wip"]}
        if schema_name == "Annotation":
            body["add_metrics"] = {"imagenet_v2_top1": 0.69}
        return json.dumps(body, indent=2)
    return json.dumps({"training_date": "2026-01-05T12:30:00+00:00", "artifact_path": "s3://models/m/1.0.0",
                       "hyperparameters": {"lr": 0.01}, "performance_metrics": {"top1": 0.76},
                       "description": "", "tags": {"team": "vision"}}, indent=2)


def _operation_html(path: str, method: str, op: dict[str, Any]) -> str:
    esc = html.escape
    params = [{"name": p["name"], "in": p["in"]} for p in op["parameters"]]
    data = esc(json.dumps({"path": path, "method": method, "params": params}), quote=True)
    fields = "".join(
        f'<label>{esc(p["name"])} ({esc(p["in"])}{", required" if p["required"] else ""}): '
        f'<input name="{esc(p["name"])}"> <small>{esc(p["description"])}</small></label>'
        for p in op["parameters"]
    )
    body = op.get("requestBody")
    if body is not None:
        schema = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        example = esc(_example_body(schema))
        fields += f'<label>JSON body ({esc(schema)}):<textarea name="body">{example}</textarea></label>'
    rows = "".join(f"<tr><td>{code}</td><td>{esc(r['description'])}</td></tr>" for code, r in op["responses"].items())
    return (
        f'<details><summary><span class="m">{method.upper()}</span> <code>{esc(path)}</code> — {esc(op["summary"])}'
        f'</summary><form data-op="{data}" onsubmit="return send(this)">{fields}<button>Send</button><pre></pre>'
        f"</form><table>{rows}</table></details>"
    )


@functools.cache
def docs_html() -> bytes:
    """The docs page (built once)."""
    doc = document()
    ops = "".join(_operation_html(p, m, op) for p, item in doc["paths"].items() for m, op in item.items())
    page = (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>modelreg API</title>"
        f"<style>{_STYLE}</style><script>{_SCRIPT}</script></head><body>"
        f"<h1>modelreg API <small>{html.escape(__version__)}</small></h1>"
        f"<p>{html.escape(doc['info']['description'])}</p>"
        '<p>Machine-readable: <a href="openapi.json">openapi.json</a>. '
        'Bearer token (if the server needs one): <input id="token" type="password" size="40"></p>'
        f"{ops}</body></html>"
    )
    return page.encode()
