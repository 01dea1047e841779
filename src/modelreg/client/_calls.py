"""Every client method as a plan (``_wire``): its argument checks, its request, its answer read back.

Arguments are checked with the core's own validators before any request (same errors, no
round trip); the server stays the authority. Answers are rebuilt as the library's frozen
values; an answer that is not what our API sends is a StoreError naming the server.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import httpx

from .. import _paths
from .._checks import int_arg, metadata_arg, str_arg
from .._history import history_filter
from ..errors import RegistryError, StoreError
from ..events import RegistryEvent
from ..metadata import ModelMetadata
from ..names import validate_name
from ..records import ModelInfo, SearchPage
from ..semver import parse_version
from ._governance import GovernanceCalls
from ._records import annotation_body, at_param, model_info, search_page, search_params
from ._wire import Plan, Request, call, error_for, json_answer, problem_code

__all__ = ["Calls"]


def _body(data: object) -> dict[str, Any]:
    # UTF-8, not to_json()'s ASCII escapes: those triple non-ASCII text and could pass the body limit.
    content = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    return {"content": content, "headers": {"Content-Type": "application/json"}}


class Calls(GovernanceCalls):
    """The plans of one server's client, by ``ModelRegistry`` / ``EventLog`` method name."""

    def __init__(self, url: str) -> None:
        self.url = url

    # -- the pieces ------------------------------------------------------------------------

    def call(self, method: str, path: str, **options: Any) -> Plan[httpx.Response]:
        """One request; a problem answer raises its error."""
        return call(self.url, method, path, **options)

    def json(self, method: str, path: str, **options: Any) -> Plan[Any]:
        """One request; its JSON answer."""
        return json_answer(self.url, method, path, **options)

    def member(self, data: Any, key: str, kind: type) -> Any:
        """``data[key]`` of the expected JSON type, or StoreError: the server is not speaking our API."""
        value = data.get(key) if isinstance(data, dict) else None
        if not isinstance(value, kind):
            raise StoreError(f"the server at {self.url} sent an answer without {kind.__name__} {key!r}")
        return value

    def metadata(self, data: Any) -> ModelMetadata:
        """A metadata answer as ModelMetadata."""
        try:
            return ModelMetadata.from_dict(data)
        except RegistryError as exc:
            raise StoreError(f"the server at {self.url} sent metadata this client cannot read: {exc}") from exc

    def events(self, data: Any) -> list[RegistryEvent]:
        """The ``events`` list of an answer as RegistryEvents."""
        events = self.member(data, "events", list)
        try:
            return [RegistryEvent.from_dict(event) for event in events]
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"the server at {self.url} sent an event this client cannot read: {exc}") from exc

    def model_info(self, data: Any) -> ModelInfo:
        """A model record answer as ModelInfo."""
        try:
            return model_info(data)
        except ValueError as exc:
            raise StoreError(f"the server at {self.url} sent a model record this client cannot read: {exc}") from exc

    @staticmethod
    def version_path(name: str, version: str) -> str:
        """The URL path of one version (arguments checked first)."""
        validate_name(name)
        parse_version(str_arg("version", version))
        return _paths.fill(_paths.VERSION, name=name, version=version)

    # -- writes ----------------------------------------------------------------------------

    def register_model(self, name: str, version: str, metadata: ModelMetadata) -> Plan[ModelMetadata]:
        """``register_model``: PUT the version's metadata."""
        path = self.version_path(name, version)
        data = yield from self.json("PUT", path, **_body(metadata_arg(metadata).to_dict()))
        return self.metadata(data)

    def unregister_model(self, name: str, version: str, force: bool = False) -> Plan[None]:
        """``unregister_model``: DELETE the version."""
        path = self.version_path(name, version)
        yield from self.call("DELETE", path, params={"force": "true"} if force else None)

    def annotate(
        self, name: str, version: str, description: object, set_tags: object, remove_tags: object,
        add_metrics: object,
    ) -> Plan[ModelMetadata]:
        """``annotate``: PATCH the version with only the fields given."""
        path = self.version_path(name, version)
        body = annotation_body(description, set_tags, remove_tags, add_metrics)
        return self.metadata((yield from self.json("PATCH", path, **_body(body))))

    def annotate_model(self, name: str, description: object, set_tags: object, remove_tags: object) -> Plan[ModelInfo]:
        """``annotate_model``: PATCH the model record."""
        validate_name(name)
        body = annotation_body(description, set_tags, remove_tags, metrics=False)
        return self.model_info((yield from self.json("PATCH", _paths.fill(_paths.MODEL, name=name), **_body(body))))

    def delete_model(self, name: str, force: bool = False) -> Plan[None]:
        """``delete_model``: DELETE the model."""
        validate_name(name)
        if not isinstance(force, bool):
            raise TypeError(f"force must be a bool, not {type(force).__name__}")
        params = {"force": "true"} if force else None
        yield from self.call("DELETE", _paths.fill(_paths.MODEL, name=name), params=params)

    # -- reads -----------------------------------------------------------------------------

    def search(self, where: object, name: object, order_by: object, limit: object, cursor: object) -> Plan[SearchPage]:
        """``search``: one page."""
        params = search_params(where, name, order_by, limit, cursor)
        data = yield from self.json("GET", _paths.SEARCH, params=params)
        try:
            return search_page(data)
        except (ValueError, RegistryError) as exc:
            raise StoreError(f"the server at {self.url} sent a search page this client cannot read: {exc}") from exc

    def get_model(self, name: str) -> Plan[ModelInfo]:
        """``get_model``."""
        validate_name(name)
        return self.model_info((yield from self.json("GET", _paths.fill(_paths.MODEL, name=name))))

    def has_version(self, name: str, version: str) -> Plan[bool]:
        """``has_version``: HEAD, then GET only to read why when the answer is neither 200 nor 404."""
        path = self.version_path(name, version)
        response = yield Request("HEAD", path, {})
        if response.status_code == 200:
            return True
        if response.status_code != 404:
            # A HEAD answer has no body to name the error: ask again with GET to read the problem.
            response = yield Request("GET", path, {})
            if response.status_code == 200:
                return True
            if response.status_code != 404:
                raise error_for(self.url, response)
        if not response.headers.get("content-type", "").startswith("application/problem+json"):
            raise error_for(self.url, response)  # not our 404: the URL does not point at a modelreg server
        return False

    def get_versions(self, name: str, at: datetime | None = None) -> Plan[list[str]]:
        """``get_versions``."""
        validate_name(name)
        data = yield from self.json("GET", _paths.fill(_paths.VERSIONS, name=name), params=at_param(at))
        return list(self.member(data, "versions", list))

    def get_metadata(self, name: str, version: str) -> Plan[ModelMetadata]:
        """``get_metadata``."""
        path = self.version_path(name, version)
        return self.metadata((yield from self.json("GET", path)))

    def get_all_model_names(self) -> Plan[list[str]]:
        """``get_all_model_names``."""
        models = self.member((yield from self.json("GET", _paths.MODELS)), "models", list)
        return [self.member(model, "name", str) for model in models]

    def version_counts(self) -> Plan[dict[str, int]]:
        """``version_counts``: one request."""
        models = self.member((yield from self.json("GET", _paths.MODELS)), "models", list)
        return {self.member(model, "name", str): self.member(model, "versions", int) for model in models}

    def resolve(self, name: str, spec: str, at: datetime | None = None) -> Plan[str]:
        """``resolve``."""
        validate_name(name)
        str_arg("spec", spec)
        params = {"spec": spec, **(at_param(at) or {})}
        data = yield from self.json("GET", _paths.fill(_paths.RESOLVE, name=name), params=params)
        if at is not None:  # the version may be unregistered since: then only its name comes back
            return str(self.member(data, "version", str))
        return str(self.metadata(data).version)

    def get_aliases(self, name: str, at: datetime | None = None) -> Plan[dict[str, str]]:
        """``get_aliases``."""
        validate_name(name)
        data = yield from self.json("GET", _paths.fill(_paths.ALIASES, name=name), params=at_param(at))
        return dict(self.member(data, "aliases", dict))

    def history(self, name: str, version: str | None, kinds: Iterable[str] | None) -> Plan[list[RegistryEvent]]:
        """``history``: the server filters, so only the events asked for cross the network."""
        validate_name(name)
        chosen = history_filter(version, kinds)  # refused here as in-process, before any request
        params: dict[str, str] = {}
        if version is not None:
            params["version"] = version
        if chosen.kinds is not None:
            params["kinds"] = ",".join(sorted(chosen.kinds))
        return self.events((yield from self.json("GET", _paths.fill(_paths.HISTORY, name=name), params=params)))

    # -- the event log ---------------------------------------------------------------------

    def changes(self, key: str) -> Plan[Any]:
        """``revision`` (key ``revision``) or ``store_id`` (key ``store``): one request."""
        kind = int if key == "revision" else str
        return self.member((yield from self.json("GET", _paths.CHANGES)), key, kind)

    def events_after(self, revision: int, limit: int = 1000) -> Plan[list[RegistryEvent]]:
        """``events_after``: pages of ``CHANGES_LIMIT`` events, one request each."""
        int_arg("revision", revision, minimum=0)
        int_arg("limit", limit, minimum=1)
        found: list[RegistryEvent] = []
        while len(found) < limit:
            page = min(limit - len(found), _paths.CHANGES_LIMIT)
            params = {"after": str(revision), "limit": str(page)}
            response = yield Request("GET", _paths.CHANGES, {"params": params})
            if response.status_code == 410 and problem_code(response) == "unknown_revision":
                break  # the store has not reached that revision: nothing came after it, as every backend says
            if response.status_code >= 400:
                raise error_for(self.url, response)
            try:
                data = response.json()
            except ValueError:
                raise StoreError(f"the server at {self.url} answered GET {_paths.CHANGES} with non-JSON") from None
            batch = self.events(data)
            found += batch
            if len(batch) < page:
                break
            revision = batch[-1].revision
        return found

    def ping(self) -> Plan[None]:
        """``ping``: ``GET /readyz``."""
        yield from self.call("GET", _paths.READYZ)
