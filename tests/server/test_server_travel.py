"""``?at=RFC3339`` on the versions, aliases and resolve routes, over real HTTP against a ``serve()`` process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from factories import metadata
from support.serverkit import put_version


def _last_at(http: httpx.Client, name: str) -> str:
    return str(http.get(f"/api/v1/models/{name}/history").json()["events"][-1]["at"])


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code
    return dict(problem)


def test_aliases_versions_and_resolve_answer_as_they_stood_at_the_time_given(http: httpx.Client) -> None:
    put_version(http, "srv-tt", "1.0.0")
    assert http.put("/api/v1/models/srv-tt/aliases/production", json={"version": "1.0.0"}).status_code == 204
    then = _last_at(http, "srv-tt")
    put_version(http, "srv-tt", "2.0.0")
    assert http.put("/api/v1/models/srv-tt/aliases/production", json={"version": "2.0.0"}).status_code == 204

    assert http.get("/api/v1/models/srv-tt/aliases", params={"at": then}).json() == {
        "name": "srv-tt", "aliases": {"production": "1.0.0"}}
    assert http.get("/api/v1/models/srv-tt/versions", params={"at": then}).json() == {
        "name": "srv-tt", "versions": ["1.0.0"]}
    resolved = http.get("/api/v1/models/srv-tt/resolve", params={"spec": "production", "at": then})
    assert resolved.status_code == 200
    assert resolved.json()["version"] == "1.0.0"
    assert resolved.json()["artifact_path"] == metadata().artifact_path


def test_resolve_at_a_time_names_a_version_unregistered_since_without_metadata(http: httpx.Client) -> None:
    put_version(http, "srv-tt-gone", "1.0.0")
    then = _last_at(http, "srv-tt-gone")
    assert http.delete("/api/v1/models/srv-tt-gone/versions/1.0.0").status_code == 204

    response = http.get("/api/v1/models/srv-tt-gone/resolve", params={"spec": "latest", "at": then})

    assert response.status_code == 200
    assert response.json() == {"name": "srv-tt-gone", "version": "1.0.0", "unregistered": True}


@pytest.mark.parametrize("text", ["yesterday", "2026-11-20T14:00:00", "2026-11-20 14:00", "2026-13-01T00:00:00Z"])
@pytest.mark.parametrize(("route", "query"), [("aliases", {}), ("versions", {}), ("resolve", {"spec": "latest"})])
def test_bad_at_text_is_a_400_naming_the_parameter_and_the_forms_accepted(
    http: httpx.Client, route: str, query: dict[str, str], text: str
) -> None:
    response = http.get(f"/api/v1/models/srv-tt-bad/{route}", params={**query, "at": text})

    problem = _problem(response, 400, "invalid_parameter")
    assert "query parameter 'at'" in problem["detail"] and "RFC 3339" in problem["detail"]


def test_a_future_at_is_a_400_saying_so(http: httpx.Client) -> None:
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()

    problem = _problem(http.get("/api/v1/models/srv-tt-f/aliases", params={"at": future}), 400, "invalid_query")
    assert "in the future" in problem["detail"]


def test_at_on_versions_does_not_take_paging(http: httpx.Client) -> None:
    now = datetime.now(UTC).isoformat()

    response = http.get("/api/v1/models/srv-tt-p/versions", params={"at": now, "limit": "5"})

    assert "does not take 'limit' or 'cursor'" in _problem(response, 400, "invalid_parameter")["detail"]


def test_openapi_documents_at_on_the_three_routes(http: httpx.Client) -> None:
    paths = http.get("/openapi.json").json()["paths"]

    for path in ("/api/v1/models/{name}/aliases", "/api/v1/models/{name}/versions", "/api/v1/models/{name}/resolve"):
        assert "at" in [param["name"] for param in paths[path]["get"]["parameters"]]
