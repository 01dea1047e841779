"""Search, annotations and model records over real HTTP: the answers' shapes, the problems, nothing changed on error."""

from __future__ import annotations

import socket
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from factories import metadata
from modelreg.metadata import LIMITS
from modelreg.server import DEFAULT_MAX_BODY_BYTES
from support.serverkit import Running

METADATA_KEYS = set(metadata().to_dict())
RECORD_KEYS = {"name", "description", "tags", "version_count", "latest", "aliases", "created_at", "updated_at"}


def _put(http: httpx.Client, name: str, version: str, **overrides: Any) -> None:
    response = http.put(f"/api/v1/models/{name}/versions/{version}", content=metadata(**overrides).to_json(),
                        headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["code"] == code and problem["detail"]
    return problem


def _state(http: httpx.Client, name: str) -> tuple[object, ...]:
    return (http.get(f"/api/v1/models/{name}/versions/1.0.0").json(), http.get(f"/api/v1/models/{name}").json(),
            http.get(f"/api/v1/models/{name}/history").json())


# -- search -------------------------------------------------------------------------


def test_search_items_are_the_metadata_with_name_aliases_and_registration(http: httpx.Client) -> None:
    _put(http, "rec-search", "1.0.0")
    _put(http, "rec-search", "2.0.0", performance_metrics={"top1": 0.8})
    http.put("/api/v1/models/rec-search/aliases/production", json={"version": "2.0.0"})
    http.put("/api/v1/models/rec-search/aliases/canary", json={"version": "2.0.0"})

    answer = http.get("/api/v1/search", params={"name": "rec-search"})

    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    page = answer.json()
    assert (page["total"], page["next_cursor"]) == (2, None)
    first, second = page["items"]
    assert set(second) == METADATA_KEYS | {"name", "aliases", "registered_at", "registered_by"}
    assert (second["name"], second["version"], second["aliases"]) == ("rec-search", "2.0.0", ["canary", "production"])
    assert second["performance_metrics"] == {"top1": 0.8}
    assert first["aliases"] == [] and first["registered_by"] == "anonymous"  # an open server's actor
    assert datetime.fromisoformat(first["registered_at"]).tzinfo is not None


def test_search_answers_follow_alias_moves_and_annotations(http: httpx.Client) -> None:
    _put(http, "rec-fresh", "1.0.0")
    params = {"name": "rec-fresh"}
    assert http.get("/api/v1/search", params=params).json()["items"][0]["aliases"] == []

    http.put("/api/v1/models/rec-fresh/aliases/production", json={"version": "1.0.0"})
    moved = http.get("/api/v1/search", params=params).json()["items"][0]
    http.patch("/api/v1/models/rec-fresh/versions/1.0.0", json={"add_metrics": {"late": 2.5}})
    annotated = http.get("/api/v1/search", params=params).json()["items"][0]

    assert moved["aliases"] == ["production"]
    assert annotated["performance_metrics"]["late"] == 2.5 and annotated["aliases"] == ["production"]


def test_search_pages_join_up_to_the_whole_answer(http: httpx.Client) -> None:
    for patch in range(7):
        _put(http, "rec-pages", f"1.0.{patch}")
    whole = http.get("/api/v1/search", params={"name": "rec-pages"}).json()

    seen: list[str] = []
    params = {"name": "rec-pages", "limit": "3"}
    while True:
        page = http.get("/api/v1/search", params=params).json()
        assert page["total"] == 7 and len(page["items"]) <= 3
        seen += [item["version"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]

    assert seen == [item["version"] for item in whole["items"]] and len(seen) == 7


def test_a_bad_query_is_a_400_invalid_query_carrying_its_position(http: httpx.Client) -> None:
    problem = _problem(http.get("/api/v1/search", params={"where": "metrics.top1 >="}), 400, "invalid_query")

    assert isinstance(problem["position"], int) and problem["position"] >= 1
    assert "column" in problem["detail"]


@pytest.mark.parametrize("limit", ["0", "1001", "ten", "-1"])
def test_a_search_limit_outside_1_to_1000_is_an_invalid_query(http: httpx.Client, limit: str) -> None:
    problem = _problem(http.get("/api/v1/search", params={"limit": limit}), 400, "invalid_query")

    assert "1000" in problem["detail"]


def test_a_search_cursor_of_another_query_is_an_invalid_query(http: httpx.Client) -> None:
    for patch in range(3):
        _put(http, "rec-cursor", f"1.0.{patch}")
    cursor = http.get("/api/v1/search", params={"name": "rec-cursor", "limit": "1"}).json()["next_cursor"]

    answer = http.get("/api/v1/search", params={"name": "rec-cursor", "limit": "1", "cursor": cursor,
                                                "order_by": "version desc"})

    _problem(answer, 400, "invalid_query")


# -- annotations ----------------------------------------------------------------------


def test_patching_a_version_answers_the_new_metadata_and_logs_what_changed(http: httpx.Client) -> None:
    _put(http, "rec-annotate", "1.0.0", tags={"team": "vision", "wip": "yes"})
    body = {"description": "fine-tuned", "set_tags": {"stage": "eval"}, "remove_tags": ["wip"],
            "add_metrics": {"v2_top1": 0.69}}

    answer = http.patch("/api/v1/models/rec-annotate/versions/v1.0.0", json=body)

    assert answer.status_code == 200, answer.text
    new = answer.json()
    assert new == http.get("/api/v1/models/rec-annotate/versions/1.0.0").json()
    assert (new["description"], new["tags"]) == ("fine-tuned", {"team": "vision", "stage": "eval"})
    assert new["performance_metrics"]["v2_top1"] == 0.69
    event = http.get("/api/v1/models/rec-annotate/history").json()["events"][-1]
    assert (event["kind"], event["version"], event["detail"]) == ("annotated", "1.0.0", body)


@pytest.mark.parametrize(("body", "status", "code", "words"), [
    ({"add_metrics": {"top1": 0.9}}, 422, "invalid_metadata", "register a new version"),
    ({"add_metrics": {"x": "0.9"}}, 422, "invalid_metadata", "add_metrics['x']"),
    ({"add_metrics": {"x": True}}, 422, "invalid_metadata", "add_metrics['x']"),
    ({"set_tags": {"team": 7}}, 422, "invalid_metadata", "set_tags['team']"),
    ({"set_tags": ["team"]}, 422, "invalid_metadata", "set_tags"),
    ({"remove_tags": "wip"}, 422, "invalid_metadata", "remove_tags"),
    ({"remove_tags": [1]}, 422, "invalid_metadata", "remove_tags[0]"),
    ({"description": None}, 422, "invalid_metadata", "description"),
    ({"description": "x" * (LIMITS["description_chars"] + 1)}, 422, "invalid_metadata", "description"),
    ({}, 422, "invalid_metadata", "nothing to annotate"),
    ({"training_date": "2026-01-01T00:00:00Z"}, 422, "invalid_body", "'training_date'"),
])
def test_a_bad_annotation_is_refused_naming_what_was_wrong_and_changes_nothing(
    http: httpx.Client, body: dict[str, Any], status: int, code: str, words: str
) -> None:
    if not http.head("/api/v1/models/rec-bad/versions/1.0.0").is_success:
        _put(http, "rec-bad", "1.0.0")
    before = _state(http, "rec-bad")

    problem = _problem(http.patch("/api/v1/models/rec-bad/versions/1.0.0", json=body), status, code)

    assert words in problem["detail"]
    assert _state(http, "rec-bad") == before


def test_patching_a_missing_version_is_a_404(http: httpx.Client) -> None:
    _problem(http.patch("/api/v1/models/rec-none/versions/1.0.0", json={"description": "x"}), 404,
             "version_not_found")


def test_a_patch_body_declared_over_the_limit_is_refused_before_it_is_sent(module_server: Running) -> None:
    address = urlsplit(module_server.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(f"PATCH /api/v1/models/rec-big HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {DEFAULT_MAX_BODY_BYTES + 1}\r\n\r\n".encode())
        answer = sock.recv(65536)

    assert answer.startswith(b"HTTP/1.1 413 ")


# -- model records --------------------------------------------------------------------


def test_get_model_answers_the_record(http: httpx.Client) -> None:
    for version in ("1.0.0", "1.1.0", "2.0.0-rc.1"):
        _put(http, "rec-model", version)
    http.put("/api/v1/models/rec-model/aliases/production", json={"version": "1.0.0"})

    record = http.get("/api/v1/models/rec-model").json()

    assert set(record) == RECORD_KEYS
    assert (record["version_count"], record["latest"], record["aliases"]) == (3, "1.1.0", {"production": "1.0.0"})
    assert (record["description"], record["tags"]) == ("", {})
    assert datetime.fromisoformat(record["created_at"]) <= datetime.fromisoformat(record["updated_at"])


def test_get_model_of_an_unknown_model_is_a_404(http: httpx.Client) -> None:
    _problem(http.get("/api/v1/models/rec-unknown"), 404, "version_not_found")


def test_patching_a_model_answers_its_new_record_and_refuses_metrics(http: httpx.Client) -> None:
    _put(http, "rec-patch-model", "1.0.0")

    answer = http.patch("/api/v1/models/rec-patch-model", json={"description": "ResNet-50",
                                                                 "set_tags": {"owner": "vision"}})
    refused = http.patch("/api/v1/models/rec-patch-model", json={"add_metrics": {"top1": 1}})

    assert answer.status_code == 200, answer.text
    assert answer.json() == http.get("/api/v1/models/rec-patch-model").json()
    assert (answer.json()["description"], answer.json()["tags"]) == ("ResNet-50", {"owner": "vision"})
    assert "'add_metrics'" in _problem(refused, 422, "invalid_body")["detail"]


def test_deleting_a_model_with_aliases_needs_force(http: httpx.Client) -> None:
    for version in ("1.0.0", "2.0.0"):
        _put(http, "rec-delete", version)
    http.put("/api/v1/models/rec-delete/aliases/production", json={"version": "2.0.0"})

    refused = http.delete("/api/v1/models/rec-delete")
    versions = http.get("/api/v1/models/rec-delete/versions").json()["versions"]
    forced = http.delete("/api/v1/models/rec-delete", params={"force": "true"})

    assert "production" in _problem(refused, 409, "version_in_use")["detail"]
    assert versions == ["1.0.0", "2.0.0"]
    assert (forced.status_code, forced.content) == (204, b"")
    assert http.get("/api/v1/models/rec-delete/versions").json()["versions"] == []
    _problem(http.get("/api/v1/models/rec-delete"), 404, "version_not_found")
    _problem(http.delete("/api/v1/models/rec-delete"), 404, "version_not_found")
